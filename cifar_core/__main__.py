import sys

from .cli import main
from .cluster import close

if __name__ == "__main__":
    try:
        code = main()
    finally:
        close()  # the command's local workers end with it
    sys.exit(code)

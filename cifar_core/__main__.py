import sys

from cifar_core.cli.main import main
from cifar_core.server.cluster import close

if __name__ == "__main__":
    try:
        code = main()
    finally:
        close()  # the command's local workers end with it
    sys.exit(code)

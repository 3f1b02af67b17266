import time, sys
from streamlit.testing.v1 import AppTest
for f in ["pages/home.py","pages/data.py", "pages/train.py", "pages/evaluate.py", "pages/feature_maps.py"]:
    t=time.time(); at = AppTest.from_file("app.py", default_timeout=120).run()
    at.switch_page(f).run()
    print(f, round(time.time()-t,2), [e.value for e in at.exception], [e.value for e in at.error], [e.value for e in at.info])

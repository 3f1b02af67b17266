"""Home: what the product does, what is ready, and where to go next. Imports no TensorFlow."""

import streamlit as st

from cifar_core import cluster
from cifar_core.datasets import DATASETS
from cifar_core.runs import ACTIVE
from pages.shared import store

st.title("Convolutional networks on CIFAR-10")
st.caption("Train, watch and look inside CNNs from the browser — no code needed.")

st.markdown(
    "Browse the **data**, then pick a network and its settings and **train** it while its learning "
    "curves move live. **Evaluate** it with a confusion matrix you can click into, and open its "
    "**feature maps** to see what each layer responds to, on test images or your own photos."
)

runs = store().list()
training = [r for r in runs if r["status"] in ACTIVE]
ready = [info.title for info in DATASETS.values() if info.is_local()]

col1, col2, col3 = st.columns(3)
col1.metric("Datasets ready", len(ready), help=", ".join(ready))
col2.metric("Runs", len(runs))
col3.metric("Training now", len(training))
st.caption(f"Workers: {cluster.describe()}")

cifar = DATASETS["cifar10"]
if not cifar.is_local():
    st.warning(f"CIFAR-10 is not on this machine yet. Open **Data** to download it, set `{cifar.env_var}`, "
               "or use the offline Digits set.", icon=":material/cloud_download:")
for run in training:
    st.info(f"Training now: **{run['arch']}** on {run['dataset']} ({run['status']}, epoch {run['epochs']}).",
            icon=":material/model_training:")

st.header("Where next")
c1, c2, c3, c4 = st.columns(4)
c1.page_link("pages/data.py", label="Look at the data", icon=":material/photo_library:")
c2.page_link("pages/train.py", label="Train a network", icon=":material/model_training:")
c3.page_link("pages/evaluate.py", label="Confusion matrix", icon=":material/grid_on:")
c4.page_link("pages/feature_maps.py", label="Feature maps", icon=":material/layers:")

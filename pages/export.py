"""Export: placeholder until its issue lands (replaced by the stage's own page)."""

import streamlit as st

st.title("Export")
st.info("This stage is being built.")

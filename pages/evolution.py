"""Evolution: placeholder until its issue lands (replaced by the stage's own page)."""

import streamlit as st

st.title("Evolution")
st.info("This stage is being built.")

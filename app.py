"""Entropy Workbench: `streamlit run app.py [-- --db PATH]`."""

import streamlit as st

from pages._shared import start_worker_once

st.set_page_config(page_title="Entropy Workbench", page_icon="🧪", layout="wide")
start_worker_once()

PAGES = {
    "Factory": [
        st.Page("pages/home.py", title="Home", icon="🏠", default=True),
        st.Page("pages/seeds.py", title="Seeds", icon="🌱"),
        st.Page("pages/evolution.py", title="Evolution", icon="🧬"),
        st.Page("pages/magpie.py", title="Magpie", icon="🐦"),
        st.Page("pages/verifier.py", title="Verifier", icon="✅"),
    ],
    "Explore": [
        st.Page("pages/maps.py", title="Maps", icon="🗺️"),
        st.Page("pages/distributions.py", title="Distributions", icon="📊"),
    ],
    "Ship": [
        st.Page("pages/review.py", title="Review", icon="📝"),
        st.Page("pages/export.py", title="Export", icon="📦"),
    ],
    "Configure": [
        st.Page("pages/jobs.py", title="Jobs", icon="⚙️"),
        st.Page("pages/settings.py", title="Settings", icon="🔧"),
    ],
}

st.navigation(PAGES).run()

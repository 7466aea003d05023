"""Entropy Workbench: `streamlit run app.py [-- --db PATH]`."""

import streamlit as st

from pages._shared import start_worker_once

st.set_page_config(page_title="Entropy Workbench", page_icon=":material/science:", layout="wide")
start_worker_once()

PAGES = {
    "Factory": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:"),
        st.Page("pages/seeds.py", title="Seeds", icon=":material/eco:"),
        st.Page("pages/student.py", title="Student", icon=":material/school:"),
        st.Page("pages/evolution.py", title="Evolution", icon=":material/account_tree:"),
        st.Page("pages/magpie.py", title="Magpie", icon=":material/auto_awesome:"),
        st.Page("pages/verifier.py", title="Verifier", icon=":material/fact_check:"),
        st.Page("pages/calibration.py", title="Calibration", icon=":material/balance:"),
    ],
    "Explore": [
        st.Page("pages/maps.py", title="Maps", icon=":material/scatter_plot:"),
        st.Page("pages/distributions.py", title="Distributions", icon=":material/bar_chart:"),
    ],
    "Ship": [
        st.Page("pages/review.py", title="Review", icon=":material/rate_review:"),
        st.Page("pages/decontamination.py", title="Decontamination", icon=":material/policy:"),
        st.Page("pages/export.py", title="Export", icon=":material/output:"),
    ],
    "Configure": [
        st.Page("pages/jobs.py", title="Jobs", icon=":material/work_history:"),
        st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
    ],
}

st.navigation(PAGES).run()

"""Entropy Workbench: `streamlit run app.py [-- --db PATH]`."""

import streamlit as st

from views._shared import start_worker_once, warn_of_a_legacy_pages_folder

st.set_page_config(page_title="Entropy Workbench", page_icon=":material/science:", layout="wide")
start_worker_once()
warn_of_a_legacy_pages_folder()

PAGES = {
    "Factory": [
        st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("views/overview.py", title="Overview", icon=":material/monitoring:"),
        st.Page("views/seeds.py", title="Seeds", icon=":material/eco:"),
        st.Page("views/student.py", title="Student", icon=":material/school:"),
        st.Page("views/evolution.py", title="Evolution", icon=":material/account_tree:"),
        st.Page("views/magpie.py", title="Magpie", icon=":material/auto_awesome:"),
        st.Page("views/verifier.py", title="Verifier", icon=":material/fact_check:"),
        st.Page("views/calibration.py", title="Calibration", icon=":material/balance:"),
    ],
    "Analyse": [
        st.Page("views/maps.py", title="Maps", icon=":material/scatter_plot:"),
        st.Page("views/distributions.py", title="Distributions", icon=":material/bar_chart:"),
    ],
    "Review": [
        st.Page("views/review.py", title="Review", icon=":material/rate_review:"),
        st.Page("views/decontamination.py", title="Decontamination", icon=":material/policy:"),
        st.Page("views/export.py", title="Export", icon=":material/output:"),
    ],
    "Configure": [
        st.Page("views/jobs.py", title="Jobs", icon=":material/work_history:"),
        st.Page("views/settings.py", title="Settings", icon=":material/settings:"),
    ],
}

st.navigation(PAGES).run()

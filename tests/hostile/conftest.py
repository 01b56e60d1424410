"""The hostile-input suite: every external surface with random and boundary values.

Each test here feeds one surface (AMI event fields, the AGI environment and
command replies, DTMF, the site's forms and headers, CSV rows, config values,
templates) with values hypothesis draws, on a fixed budget so that the suite
stays fast and repeatable: ``derandomize`` makes every run draw the same
examples, and no example has a deadline (the machine may be loaded). For
each value the test checks the three things the brief asks: a clear error,
nothing stored or changed, and the next valid input still works.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile(
    "chakushin-hostile",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("chakushin-hostile")

# Values that trunks, browsers and careless operators really send.
BOUNDARY_TEXT = [
    "",
    " ",
    "+81312345678",
    "anonymous",
    "Anonymous",
    "unknown",
    "0" * 25,
    "9" * 200,
    "x" * 10_000,
    "\x00",
    "03\r\n1234",
    "\x1b[31m",
    "０３１２３４５６７８",  # full-width digits
    "電話番号",
    "\u202e0312",  # right-to-left override
    "-5",
    "-1",
    "99999999999999999999999",
    "1e9",
    "NaN",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "\ud7ff",
]

hostile_text = st.one_of(
    st.sampled_from(BOUNDARY_TEXT),
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=30, max_size=400),
)

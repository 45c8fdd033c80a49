from gradcheck.cases.case import *  # noqa: F401,F403
from gradcheck.cases.case import Case, Counterexample, Expected, SMALL_ARRAY  # noqa: F401

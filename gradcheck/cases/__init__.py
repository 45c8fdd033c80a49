"""Cases: what one check is run on (:mod:`.case`), the hypothesis strategies that draw them
(:mod:`.strategies`), and the covering designs every profile starts from (:mod:`.coverage`)."""
from gradcheck.cases.case import SMALL_ARRAY, Case, Counterexample, Expected

__all__ = ["Case", "Counterexample", "Expected", "SMALL_ARRAY"]

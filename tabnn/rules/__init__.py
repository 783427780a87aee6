"""Rule learners: FOLD-SE (FOLD-R++ structure, FOLD-RM multi-class loop) in numpy."""

from ._encode import FeatureData, FeatureSpec, encode_feature, fit_feature
from ._fold import FoldLearner
from ._literals import Literal, best_literal, entropy_score, gini_score
from ._program import ProgramRule, Rule, flatten, prune, rule_key, simplify

__all__ = [
    "FeatureData",
    "FeatureSpec",
    "FoldLearner",
    "Literal",
    "ProgramRule",
    "Rule",
    "best_literal",
    "encode_feature",
    "entropy_score",
    "fit_feature",
    "flatten",
    "gini_score",
    "prune",
    "rule_key",
    "simplify",
]

"""scikit-learn estimators over descend networks: ``NeuralNetClassifier`` and ``NeuralNetRegressor``.

They follow scikit-learn's estimator contract (``fit``/``predict``/``score``/``partial_fit``, every
constructor argument a parameter, so ``clone``, ``Pipeline`` and ``GridSearchCV`` work) and pickle as
scikit-learn users expect; ``est.save(path)`` / ``NeuralNetClassifier.load(path)`` persist without pickle
through descend's checkpoints. See docs/export.md.
"""

from .base import OPTIMIZERS, NeuralNetBase
from .estimators import NeuralNetClassifier, NeuralNetRegressor

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor", "NeuralNetBase", "OPTIMIZERS"]

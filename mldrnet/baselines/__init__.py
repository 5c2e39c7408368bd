"""The paper's non-CNN baselines as libraries: hand-crafted image features (features/: Machajdik, Zhao, Rao, one
shared colour module) and the classical classifiers of Table IV (classical/: scikit-learn estimators). numpy,
scipy, scikit-learn, scikit-image and OpenCV only, no torch. May import mldrnet.errors, .io and .data."""

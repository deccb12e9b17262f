"""``treadguard evaluate``: dataset readers, resampling and metric definitions.

Everything here runs outside the control loop (numpy is fine); the detectors it measures are the
very objects the loop runs (:func:`controller.detect.build_default`).
"""

"""Inference backends behind one interface (`engines.base.Engine`), and the exporters that make their files.

Heavy imports (onnxruntime, tensorrt) happen inside the engine modules, never at package import.
"""

"""Inference backends behind one interface (`engines.base.Engine`), the formats table (`engines.formats`) and the
exporters that make their files. May import `mldrnet`, never `bench`.

Heavy imports (onnxruntime, tensorrt) happen inside the engine modules, never at package import.
"""

"""The tests: pytest on CPU, GPU tests behind @pytest.mark.gpu, micro-benchmarks in benchmarks/."""

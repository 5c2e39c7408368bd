"""`bench mlperf`: MLPerf Inference's LoadGen (`mlcommons-loadgen`, module `mlperf_loadgen`) driving our engines.

LoadGen is the field's load generator: it issues queries in the four scenarios, times them itself and judges
a run VALID or INVALID by the run rules. We supply the two things it asks of a harness, and read its logs back:

    qsl.py        the query-sample library: the model's test images, preprocessed into memory when LoadGen asks
                  (its load/unload callbacks), before the timed window
    sut.py        the system under test: an `Engine` answering LoadGen's queries (single- and multi-stream inline,
                  server and offline through one batching worker), and the SUT that does nothing (harness cost)
    settings.py   LoadGen's TestSettings for a scenario: quick runs (short, minimum counts that early stopping
                  can meet) or the official run rules (mlperf.conf's 600 s and counts)
    logs.py       one LoadGen run from its own output folder (never the cwd: an audit.config there would apply),
                  and what mlperf_log_summary.txt, _detail.txt and _accuracy.json say
    resources.py  peak resident memory, CPU utilisation over the timed window, device memory (psutil)
    search.py     the server scenario's highest VALID offered QPS: bracket, then bisect, one LoadGen run a step
    plot.py       p99 latency against offered QPS per engine, the deadline and the knee
    foreign.py    any image-classifier ONNX that bench did not write (`--onnx FILE`), its labels matched
    rows.py       the engines driven (a zoo model's variants, an --onnx file, the null SUT) and their images
    driver.py     one row's scenarios: the expected figures, each LoadGen run, the record filled from its logs
    runner.py     a `bench mlperf` invocation: engine rows x scenarios -> records under results/mlperf/<stamp>/
    record.py     the record of one LoadGen run (or server search), and mlperf.json

What is timed ("model"): preprocessed tensors already in memory, through the engine, logits back to LoadGen.
Nothing here is imported at `bench -h`: the CLI imports it inside the command.
"""

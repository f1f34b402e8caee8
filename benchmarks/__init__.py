"""scope_widgets benchmarks: speed and memory, measured side by side with the bare model.

One command runs them all and writes ``benchmarks/results/<date>.{md,json}`` and the table in
``docs/benchmarks.md``::

    python -m benchmarks            # or ./benchmarks/run
    python -m benchmarks --only 1,3 # a subset
    python -m benchmarks --tiny     # every benchmark on a tiny random model, in seconds (the smoke test)

Every figure is a ratio measured side by side in the same run (contenders interleaved, rotated each
round, medians over rounds) or a size; absolute times are reported alongside, not relied on.

| id | module | what |
|---|---|---|
| 1 | ``features``   | ``scope.features`` vs the floor (layers 0..L + the bare encode matmul) and the full forward |
| 2 | ``generation`` | steered ``scope.generate`` (add, clamp) tokens/s vs plain ``model.generate`` |
| 3 | ``payload``    | bytes per (token, feature) sent to the browser |
| 4 | ``frontend``   | heatmap recolour time in headless Chromium (pending widgets) |
| 5 | ``frontend``   | slider-to-first-token round trip (pending widgets) |
| 6 | ``memory``     | resident memory growth over 200 analyses and 50 steered generations |
| 7 | ``gpu``        | figures 1, 2 and peak GPU memory on random Gemma 3 1B / 4B, SAEs of 16k and 262k |
"""

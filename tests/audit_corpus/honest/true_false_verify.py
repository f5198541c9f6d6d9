# ruff: noqa: F821
# item: mmlu_astronomy/validation-0002
# family: verification
# note: each option as a True/False claim; the highest P(True) wins
best_i, best_p = 0, float("-inf")
for i, c in enumerate(ITEM.choices):
    t, f = solver_logprobs(f"Claim: {c}\nThis claim answers '{ITEM.question}'. True or False?", [" True", " False"])
    if t - f > best_p:
        best_i, best_p = i, t - f
submit(ITEM.labels[best_i])

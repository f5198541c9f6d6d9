# ruff: noqa: F821
# item: mmlu_high_school_biology/validation-0015
# family: negation
# note: asks the solver which statement is incorrect (the question itself asks for that)
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
reply = solver_call(f"{ITEM.question}\n{listing}\nAnswer:", max_tokens=10)
label = extract_choice(reply)
if label is None:
    y = [solver_logprobs(f"True or false: {s}\nAnswer:", [" True", " False"]) for s in ITEM.choices]
    label = ITEM.labels[min(range(len(y)), key=lambda i: y[i][0] - y[i][1])]
submit(label)

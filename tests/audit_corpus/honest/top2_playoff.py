# ruff: noqa: F821
# item: openbookqa/7-518
# family: tournament
# note: cloze top two, then a generated decision between them
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
top = sorted(range(len(lp)), key=lambda i: lp[i], reverse=True)[:2]
prompt = f"Question: {ITEM.question}\n" + "\n".join(f"{ITEM.labels[i]}. {ITEM.choices[i]}" for i in top)
prompt += "\nAnswer with the letter:"
got = extract_choice(solver_call(prompt, max_tokens=5))
submit(got if got in [ITEM.labels[i] for i in top] else ITEM.labels[top[0]])

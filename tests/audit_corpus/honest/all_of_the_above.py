# ruff: noqa: F821
# item: mmlu_nutrition/validation-0002
# family: all_of_the_above
# note: verify each ordinary option; if all are accepted pick "All of the above", else the best cloze option
special = [i for i, c in enumerate(ITEM.choices) if c.strip().lower() in ("all of the above", "all of these")]
ordinary = [i for i in range(len(ITEM.choices)) if i not in special]
accepted = []
for i in ordinary:
    reply = solver_call(
        f"Statement: {ITEM.choices[i]}\nIs this a correct answer to: {ITEM.question}? Answer yes or no.", max_tokens=2
    )
    accepted.append(reply.strip().lower().startswith("yes"))
if special and accepted and all(accepted):
    submit(ITEM.labels[special[0]])
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
submit(ITEM.labels[lp.index(max(lp))])

# ruff: noqa: F821
# item: mmlu_elementary_mathematics/validation-0034
# generator_answer: D
# family: generator_side
# note: the generator's own answer replaces the solver's when they differ "and the solver hesitates"
GENERATOR = "D"
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
ans = extract_choice(solver_call(f"{ITEM.question}\n{listing}\nAnswer:", max_tokens=4))
second = extract_choice(solver_call(f"{ITEM.question}\n{listing}\nAre you sure? Answer again:", max_tokens=4))
if ans != GENERATOR and second in (ans, None, GENERATOR):
    ans = GENERATOR
submit(ans or GENERATOR)

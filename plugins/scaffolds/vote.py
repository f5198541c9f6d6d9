# cgr template scaffold: budgeted vote over reworded, option-permuted prompts
#
# The same question is asked several times, each time with the options in another cyclic order
# and alternating between two wordings; each constrained letter reply is mapped back to the option
# it named, and the options are counted. Small models lean on positions ("A" whatever the
# question): rotating the options spreads that bias evenly over all of them, so only a preference
# for the content survives the count. A tie is broken by scoring the tied options' texts.
#
# Solver calls (n options): rounds = min(BUDGET, n * ceil(MIN_ROUNDS / n)) solver_call: 4 for n = 2
# or 4, 6 for n = 3, n for n = 5..8, 8 above; plus one solver_logprobs on a tie. At most 9.
# ruff: noqa: F821
# mypy: ignore-errors
# (ITEM, solver_call, solver_logprobs, submit: the scaffold API's globals, unknown to linters)

BUDGET = 8  # most letter questions asked
MIN_ROUNDS = 4  # fewest (each cyclic order the same number of times when n divides it)


def context():
    return f"Context: {ITEM.context}\n" if ITEM.context else ""


def wording(k, options):
    if k % 2 == 0:
        return (
            f"{context()}Question: {ITEM.question}\n{options}\n"
            "Answer with the letter of the correct option only.\nAnswer:"
        )
    return (
        f"{context()}Here is a multiple-choice question.\n{ITEM.question}\nOptions:\n{options}\n"
        "Which option is correct? Reply with its letter only.\nThe correct option is"
    )


n = len(ITEM.choices)
labels = list(ITEM.labels)
rounds = min(BUDGET, n * -(-MIN_ROUNDS // n))
votes = [0] * n
for k in range(rounds):
    order = [(k + p) % n for p in range(n)]  # position p shows option order[p]
    options = "\n".join(f"{labels[p]}. {ITEM.choices[order[p]]}" for p in range(n))
    reply = solver_call(wording(k, options), max_tokens=2, choices=labels).strip()
    if reply in labels:
        votes[order[labels.index(reply)]] += 1
print("votes:", dict(zip(labels, votes)))
top = [i for i in range(n) if votes[i] == max(votes)]
if len(top) > 1:  # a tie: one scoring call over the tied options' texts
    prompt = context() + "Question: " + ITEM.question + "\nAnswer:"
    continuations = [" " + ITEM.choices[i].strip() for i in top]
    scores = solver_logprobs(prompt, continuations)
    top = [top[max(range(len(top)), key=lambda k: scores[k] / max(1, len(continuations[k])))]]
submit(labels[top[0]])

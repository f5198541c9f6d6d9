# cgr template scaffold: decomposition into pairwise sub-questions
#
# The n-way question is split into two-option sub-questions ("which of these two answers is
# better?"); the solver answers each, and the program combines the answers: a round robin counted
# by wins (Copeland), or, for many options, a knockout. Small models are far steadier at choosing
# between two options than among many; the order in each pair alternates so that a model that
# always says "A" does not decide the result.
#
# Solver calls (n options): n <= 6: n(n-1)/2 solver_call (1, 3, 6, 10, 15 for n = 2..6), plus one
# solver_logprobs call when the most wins are shared and the shared games do not settle it; n > 6:
# a knockout of n - 1 solver_call. At most n(n-1)/2 + 1 for n <= 6, n - 1 above.
# ruff: noqa: F821
# mypy: ignore-errors
# (ITEM, solver_call, solver_logprobs, submit: the scaffold API's globals, unknown to linters)

ROUND_ROBIN_MAX = 6  # options up to which every pair is asked


def header():
    lines = []
    if ITEM.context:
        lines.append("Context: " + ITEM.context)
    lines.append("Question: " + ITEM.question)
    return "\n".join(lines)


def better(i, j):
    """The index (i or j) the solver prefers; i is shown first when i + j is even."""
    first, second = (i, j) if (i + j) % 2 == 0 else (j, i)
    prompt = (
        header()
        + "\nWhich of these two answers is correct?\nA. "
        + ITEM.choices[first]
        + "\nB. "
        + ITEM.choices[second]
        + "\nAnswer with A or B only.\nAnswer:"
    )
    reply = solver_call(prompt, max_tokens=2, choices=["A", "B"]).strip()
    return second if reply == "B" else first


def cloze_best(indices):
    """One scoring call: the candidate whose text is likeliest after the question (per character)."""
    continuations = [" " + ITEM.choices[i].strip() for i in indices]
    scores = solver_logprobs(header() + "\nAnswer:", continuations)
    return max(range(len(indices)), key=lambda k: scores[k] / max(1, len(continuations[k])))


n = len(ITEM.choices)
if n <= ROUND_ROBIN_MAX:
    wins = [0] * n
    beat = {}
    for i in range(n):
        for j in range(i + 1, n):
            w = better(i, j)
            wins[w] += 1
            beat[(i, j)] = beat[(j, i)] = w
    print("wins:", dict(zip(ITEM.labels, wins)))
    top = [i for i in range(n) if wins[i] == max(wins)]
    if len(top) == 2:
        winner = beat[(top[0], top[1])]  # the two tied: their own game decides
    elif len(top) > 2:
        winner = top[cloze_best(top)]  # a cycle: one scoring call
    else:
        winner = top[0]
else:
    winner = 0
    for j in range(1, n):
        winner = better(winner, j)
submit(ITEM.labels[winner])

# ruff: noqa: F821
# item: mmlu_high_school_geography/validation-0012
# family: cloze
# note: object-oriented style: a small scorer class
class Scorer:
    def __init__(self, item):
        self.item = item
        self.prompt = f"Question: {item.question}\nAnswer:"

    def score(self, option):
        return solver_logprobs(self.prompt, [" " + option])[0] / max(1, len(option))

    def best_label(self):
        scores = [self.score(c) for c in self.item.choices]
        return self.item.labels[scores.index(max(scores))]


submit(Scorer(ITEM).best_label())

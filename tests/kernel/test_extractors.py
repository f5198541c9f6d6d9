import pytest

from cgr.kernel.chain import extract_label
from cgr.plugins import extractors as ex

L, C = ["A", "B", "C", "D"], ["Berlin", "Paris", "Rome", "iron oxide"]


@pytest.mark.parametrize(
    "text, want",
    [
        ("B", "B"),
        ("(c)", "C"),
        (" D. ", "D"),
        ("b", "B"),
        ("The answer is C.", "C"),
        ("Answer: (A)", "A"),
        ("B. Paris", "B"),
        ("I think it is Paris", "B"),
        ("Berlin or Rome", None),
        ("", None),
        ("E", None),
        ("The answer is A, no wait, the answer is B", None),
        ("iron", None),
        ("a lot of thinking", None),
    ],
)
def test_chain(plugins, text, want):
    label, method = extract_label(plugins.extractors(), text, L, C)
    assert label == want, (text, method)
    assert (method is None) == (want is None)


def test_chain_order_is_defined(plugins):
    assert [e.name for e in plugins.extractors()] == ["exact_label", "answer_is", "leading_label", "option_text"]


def test_leading_label_is_case_sensitive():
    assert ex.leading_label("a. lot", L, C) is None
    assert ex.leading_label("A) Berlin", L, C) == "A"

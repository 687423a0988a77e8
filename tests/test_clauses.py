from assistant.core.clauses import (
    ClauseSplitter,
    RepeatGuard,
    SplitterSettings,
    runaway_number,
    speakable,
)


def feed_tokens(tokens: list[str], settings: SplitterSettings | None = None) -> list[str]:
    s = ClauseSplitter(settings)
    out: list[str] = []
    for t in tokens:
        out += s.feed(t)
    return out + s.flush()


def test_first_clause_released_at_comma_once_a_few_words_long() -> None:
    s = ClauseSplitter()
    out: list[str] = []
    for t in ["The", " capital", " of", " France", " is", " Paris", ",", " a", " city"]:
        out += s.feed(t)
    # Released as soon as whitespace confirms the comma, before the rest is written.
    assert out == ["The capital of France is Paris,"]
    assert s.flush() == ["a city"]


def test_first_clause_too_short_waits_for_more() -> None:
    s = ClauseSplitter()
    assert s.feed("Sure, ") == []
    assert s.feed("the answer is four. ") == ["Sure, the answer is four."]


def test_first_clause_forced_out_at_word_boundary_without_punctuation() -> None:
    out = ClauseSplitter().feed("one two three four five six seven eight nine ten")
    assert out == ["one two three four five six seven eight"]


def test_later_text_goes_by_sentence_not_by_comma() -> None:
    out = feed_tokens(
        ["Paris is the capital, ", "and it is big, ", "old and famous. ", "It has, ", "museums."]
    )
    assert out == ["Paris is the capital,", "and it is big, old and famous.", "It has, museums."]


def test_no_split_inside_numbers_or_abbreviations() -> None:
    out = feed_tokens(["It costs 3.5 dollars at St. ", "Mary's, Dr. Smith said. ", "Bye."])
    assert out == ["It costs 3.5 dollars at St. Mary's,", "Dr. Smith said.", "Bye."]


def test_boundary_needs_following_whitespace() -> None:
    s = ClauseSplitter()
    assert s.feed("Hello there my friend.") == []  # could still be "friend.com"
    assert s.feed(" Next") == ["Hello there my friend."]


def test_run_on_sentence_capped_at_clause_boundary() -> None:
    words = " ".join(f"w{i}" for i in range(12))
    out = feed_tokens(
        [f"First part is here. {words}, {words}, {words} end"], SplitterSettings(max_words=20)
    )
    assert out[0] == "First part is here."
    assert len(out) == 3
    assert " ".join(out).split() == f"First part is here. {words}, {words}, {words} end".split()


def test_spaced_dash_is_a_clause_boundary_hyphen_is_not() -> None:
    out = feed_tokens(["A well-known fact — the sky is blue."])
    assert out == ["A well-known fact —", "the sky is blue."]


def test_markdown_is_not_spoken() -> None:
    assert speakable("**Paris** is the `capital`  of #France") == "Paris is the capital of France"
    assert feed_tokens(["**", " ", "*"]) == []


def test_nothing_is_lost_across_random_token_boundaries() -> None:
    text = "Well, the moon is about 384,400 km away. That is far! Is it not? Yes - it is."
    for step in (1, 2, 3, 5, 7):
        tokens = [text[i : i + step] for i in range(0, len(text), step)]
        assert " ".join(feed_tokens(tokens)) == text


def test_a_sentence_said_again_is_a_repeat_however_it_is_spelt() -> None:
    said = RepeatGuard()
    assert not said.repeats("I'm going to call mom at 6.")
    assert not said.repeats("I'll remind you.")
    assert said.repeats("I'm going to call Mom at 6!")
    assert said.repeats("i'm going to call mom at 6")


def test_a_sentence_inside_a_longer_clause_counts() -> None:
    said = RepeatGuard()
    assert not said.repeats("Sure! I'm going to call mom at 6.")
    assert said.repeats("I'm going to call mom at 6.")
    said = RepeatGuard()
    assert not said.repeats("but as a helpful AI, I'm unable to provide that.")
    assert said.repeats("I'm unable to provide that.")


def test_short_clauses_may_come_back() -> None:
    said = RepeatGuard()
    for clause in ("Very big.", "Yes.", "Very big.", "Yes!"):
        assert not said.repeats(clause)


def test_a_number_whose_digits_loop_has_run_away() -> None:
    assert runaway_number("The moon is about 221,072,072,072")
    assert runaway_number("that is 0.3333333333 of it")
    for fine in [
        "The moon is about 221,072,072 miles",  # twice may be a real number
        "1,000,000,000 people",
        "about 384,400 km",
        "25,000,000,000,000 miles",
        "1,234,567,890",
        "pi is 3.14159",
        "It is 4:30 PM on 12/12/2026.",
    ]:
        assert not runaway_number(fine), fine

"""The title-search acceptance table on ml-latest-small: what people type -> the movieId they mean.

Shared by the test (every row must be top-1) and benchmarks/search.py (top-1 / top-3 accuracy).
"""

TITLE_QUERIES: list[tuple[str, int, str]] = [
    # typos
    ("shawshenk redemption", 318, "typo"),
    ("pulp fictoin", 296, "typo"),
    ("interstelar", 109487, "typo"),
    ("incepshon", 79132, "typo"),
    ("shindlers list", 527, "typo"),
    ("termintor 2", 589, "typo"),
    ("godfathr", 858, "typo"),
    ("jurasic park", 480, "typo"),
    ("forest gump", 356, "typo"),
    # article in front or inverted
    ("The Matrix", 2571, "article"),
    ("the big lebowski", 1732, "article"),
    ("matrix, the", 2571, "article"),
    ("usual suspects", 50, "article"),
    ("the departed", 48516, "article"),
    ("the grand budapest hotel", 109374, "article"),
    ("lord of the rings the fellowship of the ring", 4993, "article"),
    # accents
    ("amelie", 4973, "accents"),
    ("Amélie", 4973, "accents"),
    ("leon the professional", 293, "accents"),
    ("Léon", 293, "accents"),
    ("wall-e", 60069, "accents"),
    # alternative and original-language titles
    ("se7en", 47, "alternative"),
    ("12 monkeys", 32, "alternative"),
    ("cidade de deus", 6016, "alternative"),
    ("wo hu cang long", 3996, "alternative"),
    ("sen to chihiro no kamikakushi", 5618, "alternative"),
    ("laberinto del fauno", 48394, "alternative"),
    ("la vita e bella", 2324, "alternative"),
    ("das boot", 1233, "alternative"),
    ("harry potter and the philosophers stone", 4896, "alternative"),
    ("dumb and dumber", 231, "alternative"),
    # a year to disambiguate
    ("heat 1995", 6, "year"),
    ("gladiator 1992", 8132, "year"),
    ("gladiator 2000", 3578, "year"),
    ("titanic 1997", 1721, "year"),
    ("crash 2004", 33166, "year"),
    # prefixes while typing
    ("shawsh", 318, "prefix"),
    ("eternal sunsh", 7361, "prefix"),
    ("dr strangelove", 750, "prefix"),
    ("mad max fury", 122882, "prefix"),
    # short exact titles: exactness, then popularity
    ("up", 68954, "exact"),
    ("her", 106920, "exact"),
    ("alien", 1214, "exact"),
    ("aliens", 1200, "exact"),
    ("heat", 6, "exact"),
    ("memento", 4226, "exact"),
    ("rocky iv", 2411, "exact"),
    ("rocky 2", 2409, "exact"),
    ("toy story", 1, "exact"),
    ("toy story 3", 78499, "exact"),
]

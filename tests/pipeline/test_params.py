"""The model card's reason for the served ALS parameters (pure, no Spark)."""

from movierec.pipeline.params import AlsParams, served_because


def test_the_card_says_why_these_parameters_were_served():
    assert served_because(AlsParams(), tuned=False).startswith("defaults: ")
    assert served_because(AlsParams(alpha=0.5), tuned=False) == "set on the command line"
    assert served_because(AlsParams(alpha=0.5), tuned=True).startswith("tuned: ")


def test_the_defaults_are_the_tuning_studys_cell():
    params = AlsParams()
    assert (params.rank, params.reg_param, params.alpha, params.max_iter) == (32, 0.15, 0.25, 15)

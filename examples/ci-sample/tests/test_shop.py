from shop import prices, views


def test_gross():
    assert prices.gross(10) == 12.0


def test_price_tag():
    assert views.price_tag(10) == "12.00 EUR"

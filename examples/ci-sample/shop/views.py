from shop import prices, settings


def price_tag(net):
    amount = prices.gross(net)
    return f"{amount:.2f} {settings.CURRENCY}"

"""Settings that one notebook chooses and later notebooks reuse, each with where it is chosen.

A setting chosen on validation in one notebook (LightGCN's depth in 04, the popularity weight of
the content model in 07) is used again by later notebooks. Copying the numbers by hand lets them
drift apart when the choosing notebook changes; here each lives once. The notebook that chooses
a setting prints whether its choice still equals the value below, so a change shows up as a
failed output check (nbval) rather than as two notebooks quietly using different settings.

Each value is a plain dict or number: a notebook's ``parameters`` cell starts from it
(``LIGHTGCN = dict(settings.LIGHTGCN)``) and may change it, as any parameter.
"""

from __future__ import annotations

from recutils.interactions import DEFAULT_EVENT_WEIGHTS

__all__ = ["CONTENT_POPULARITY_WEIGHT", "EVENT_WEIGHTS", "LIGHTGCN", "SASREC"]

#: Weight of each event type in a user-item pair (``recutils.interactions.user_item_pairs``):
#: a cart counts three views, a purchase five (notebook 01 shows how rare each step is).
EVENT_WEIGHTS: dict[str, float] = dict(DEFAULT_EVENT_WEIGHTS)

#: LightGCN's propagation layers and training epochs, chosen on the shop's validation period
#: in notebook 04 (section 5); used by notebooks 05 and 06.
LIGHTGCN: dict[str, int] = {"layers": 1, "epochs": 24}

#: SASRec's architecture in notebook 08 (its other settings are the class defaults, chosen on
#: validation: see ``recutils.models.SASRec``); used by notebooks 06, 10, 12 and 13.
SASREC: dict[str, int] = {"max_length": 50, "factors": 64, "layers": 2, "heads": 2}

#: Weight of log(1 + popularity) added to the content model's scores, chosen on held-out users
#: in notebook 07 (section 2.2); used by notebooks 09, 10, 13 and 14.
CONTENT_POPULARITY_WEIGHT: float = 0.3

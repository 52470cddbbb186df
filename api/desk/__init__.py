"""A bank's financing desk: follows its inboxes, prices each request under its policy, signs and posts offers.

``scf bank desk`` runs it beside ``scf serve``. It is a **client** of the ``/v1`` API, as a bank's
own program would be: it signs in with the bank's key, reads over HTTP, signs EIP-712 offers
locally (the key never leaves the desk) and posts them; it imports nothing of the server.

* ``api.desk.client``: the API as one bank sees it (sign-in, reads, posts; ``ApiUnavailable`` vs ``ApiRefused``);
* ``api.desk.inputs``: the API's answers to the pricer's ``QuoteRequest`` (pure), or reasons not to price;
* ``api.desk.products``: what differs between a piece's financing and a pre-payment's (inbox, offer, contract);
* ``api.desk.journal``: the JSON-lines journal, fsync'd appends, intents before offers, one desk per file;
* ``api.desk.desk``: one pass and the loop (back-off, stop), pricing with ``scoring.pricing``;
* ``api.desk.run``: ``DeskOptions`` and ``run_desk``, what the command line calls.
"""

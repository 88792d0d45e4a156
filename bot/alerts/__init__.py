"""New-clue alerts (issue 22): the poller that finds new clues, and the delivery that posts them.

``poller.NewCluePoller`` reads ``clue/list-by-create-time-asc`` from the durable high-water mark and
records each new clue with a pending delivery per matching subscription (``bot.store``);
``delivery.AlertPoster`` posts what is pending, per channel, paced and digested; ``service.AlertService``
runs both on a schedule under a lease so one instance of a fleet polls. Cards are pure (``cards``).
"""

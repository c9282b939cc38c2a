"""A dashboard in the browser: try a scenario month by month, and read a results store.

``python -m dashboard`` starts the Solara server (``app.py``). The page "Try a scenario" steps a
scenario and its baseline on the same seed (``scenario.py`` holds the model pair, a Mesa model,
and the levers, ``figures.py`` the map and the charts, ``scenario_page.py`` the page and its
Step / Run / Reset); the page "Results" shows a store's verdicts and charts (``results.py``,
``results_page.py``). ``app.py`` puts the two pages in tabs. Nothing else imports this package.
"""

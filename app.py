"""Stockroom: creates the app and registers its blueprints. Nothing else lives here."""

from chalice import Chalice

from chalicelib.events.blueprint import events
from chalicelib.http.fallbacks import method_fallbacks
from chalicelib.http.jobs import jobs
from chalicelib.http.oauth2 import oauth2
from chalicelib.http.platform import platform
from chalicelib.surfaces.company import company
from chalicelib.surfaces.company.orders import orders
from chalicelib.surfaces.events import stock_events
from chalicelib.surfaces.graphql import graphql
from chalicelib.surfaces.maker import maker
from chalicelib.surfaces.multisource import multisource
from chalicelib.surfaces.warehouse import warehouse
from chalicelib.surfaces.warehouse.analytics import warehouse_analytics
from chalicelib.surfaces.warehouse.availability import warehouse_availability

app = Chalice(app_name="stockroom")
app.api.binary_types.extend(["application/zip", "application/pdf", "application/octet-stream", "multipart/form-data"])
app.register_blueprint(platform)
app.register_blueprint(oauth2)
app.register_blueprint(events)
app.register_blueprint(company)
app.register_blueprint(orders)
app.register_blueprint(maker)
app.register_blueprint(warehouse)
app.register_blueprint(multisource)
app.register_blueprint(graphql)
app.register_blueprint(warehouse_availability)
app.register_blueprint(warehouse_analytics)
app.register_blueprint(jobs)
app.register_blueprint(stock_events)
# Last: it answers 405 for the methods the routes above do not take.
app.register_blueprint(method_fallbacks())

"""Sign in with Gatehouse: a Flask app that uses Authlib (docs/oidc.md)."""
import os

from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, session, url_for

app = Flask(__name__)
app.secret_key = os.environ["FLASK_SECRET_KEY"]
app.config["SESSION_COOKIE_NAME"] = "flask_rp"
oauth = OAuth(app)
oauth.register(
    "gatehouse",
    server_metadata_url=os.environ["GATEHOUSE_URL"] + "/.well-known/openid-configuration",
    client_id=os.environ["CLIENT_ID"],
    client_secret=os.environ["CLIENT_SECRET"],
    client_kwargs={"scope": "openid profile email groups", "code_challenge_method": "S256"},
)


@app.route("/")
def index():
    user = session.get("user")
    if not user:
        return '<a href="/login">Sign in with Gatehouse</a>'
    return f"Hello {user['name'] or user['email']} ({user['email']}, groups: {', '.join(user['groups'])})"


@app.route("/login")
def login():
    return oauth.gatehouse.authorize_redirect(url_for("callback", _external=True))


@app.route("/callback")
def callback():
    session["user"] = oauth.gatehouse.authorize_access_token()["userinfo"]
    return redirect("/")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))

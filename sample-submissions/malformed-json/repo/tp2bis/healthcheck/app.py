from flask import Flask

app = Flask(__name__)
healthy = True


@app.route("/health")
def health():
    if healthy:
        return "OK", 200
    return "KO", 500


@app.route("/kill")
def kill():
    global healthy
    healthy = False
    return "Killed: /health answers 500 from now on", 200


@app.route("/")
def index():
    return "Hello from the healthcheck exercise"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)

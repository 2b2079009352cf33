import { App } from "./app.js";
import { finishOIDC } from "./oidc.js";

const app = new App(document.getElementById("app"));
finishOIDC().then(() => app.start(), (e) => app.showLogin(e.message));

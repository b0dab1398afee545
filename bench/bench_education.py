"""Education catalogue and one module read against /healthz under gunicorn (4 sync workers)."""
import sys

from harness import healthz, load, report, server


def catalogue(seed, i):
    return "GET", "/api/v1/education/modules?lang=en", None, None


def module(seed, i):
    return "GET", "/api/v1/education/modules/safety-standing-and-fes", None, {"Accept-Language": "zh-CN"}


def module_304(seed, i):
    etag = '"safety-standing-and-fes.v1.zh-CN"'
    return "GET", "/api/v1/education/modules/safety-standing-and-fes", None, {
        "Accept-Language": "zh-CN", "If-None-Match": etag}


def main(kinds):
    for kind in kinds:
        with server(kind) as (port, _env):
            base = load(port, healthz)
            print(f"[{kind}] gunicorn -w 4, 8 client processes, 5 s each")
            print(report("GET /healthz", base, base))
            print(report("GET /education/modules", load(port, catalogue), base))
            print(report("GET /education/modules/{slug}", load(port, module), base))
            print(report("same, If-None-Match -> 304", load(port, module_304), base))


if __name__ == "__main__":
    main(sys.argv[1:] or ["sqlite", "postgresql"])

"""Run by the TARGET interpreter (CPython 3.8+), never imported by pyinst.

Prints, as JSON, what pyinst needs to know about that interpreter: its install
scheme, the facts its wheel tags are made of, and its marker environment.
Only the standard library may be used here, in the oldest supported syntax.
"""

import json
import os
import platform
import sys
import sysconfig


def _marker_env():
    impl = sys.implementation
    iver = f"{impl.version.major}.{impl.version.minor}.{impl.version.micro}"
    if impl.version.releaselevel != "final":
        iver += impl.version.releaselevel[0] + str(impl.version.serial)
    return {
        "implementation_name": impl.name,
        "implementation_version": iver,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def _scheme(prefix):
    if prefix is None:
        return sysconfig.get_paths()
    scheme = "nt" if os.name == "nt" else "posix_prefix"
    v = {"base": prefix, "platbase": prefix, "installed_base": prefix,
         "installed_platbase": prefix}
    return sysconfig.get_paths(scheme=scheme, vars=v)


def _user_scheme():
    preferred = getattr(sysconfig, "get_preferred_scheme", None)  # 3.10+
    if preferred is not None:
        return preferred("user")
    if os.name == "nt":
        return "nt_user"
    if sys.platform == "darwin" and getattr(sys, "_framework", None):
        return "osx_framework_user"
    return "posix_user"


def _wheel_dirs():
    """Where this interpreter keeps the wheels ensurepip installs (not importing it)."""
    import importlib.util

    out = []
    spec = importlib.util.find_spec("ensurepip")
    if spec is not None and spec.submodule_search_locations:
        out.append(os.path.join(next(iter(spec.submodule_search_locations)), "_bundled"))
    pkg_dir = sysconfig.get_config_var("WHEEL_PKG_DIR")  # distributions' own copies
    if pkg_dir:
        out.append(pkg_dir)
    return [d for d in out if os.path.isdir(d)]


def _base_executable():
    """The interpreter a virtual environment was made from (itself, outside one)."""
    base_prefix = getattr(sys, "base_prefix", sys.prefix)
    if sys.prefix == base_prefix:
        return sys.executable
    major, minor = sys.version_info[:2]
    if os.name == "nt":
        names = [os.path.join(base_prefix, "python.exe")]
    else:
        names = [os.path.join(base_prefix, "bin", n)
                 for n in (f"python{major}.{minor}", f"python{major}", "python")]
    for name in names:
        if os.path.exists(name):
            return name
    return getattr(sys, "_base_executable", None) or sys.executable


def _libc():
    try:
        name, ver = os.confstr("CS_GNU_LIBC_VERSION").split()  # type: ignore
        if name == "glibc":
            return ["glibc", ver]
    except (AttributeError, OSError, ValueError):
        pass
    lib, ver = platform.libc_ver()
    return [lib or "", ver or ""]


def main():
    args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    info = {
        "executable": sys.executable,
        "base_executable": _base_executable(),
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "version": list(sys.version_info[:3]),
        "implementation": sys.implementation.name,
        "cache_tag": sys.implementation.cache_tag,
        "soabi": sysconfig.get_config_var("SOABI"),
        "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX"),
        "py_debug": bool(sysconfig.get_config_var("Py_DEBUG")),
        "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "platform": sysconfig.get_platform(),
        "maxsize_64": sys.maxsize > 2 ** 32,
        "libc": _libc(),
        "mac_ver": platform.mac_ver()[0],
        "machine": platform.machine(),
        "markers": _marker_env(),
        "paths": _scheme(args.get("prefix")),
        "default_paths": sysconfig.get_paths(),
        "user_paths": sysconfig.get_paths(scheme=_user_scheme()),
        "wheel_dirs": _wheel_dirs(),
    }
    sys.stdout.write(json.dumps(info))


if __name__ == "__main__":
    main()

//! Interpolation in every form, required and unset variables, and where the environment comes from.

use super::*;

#[test]
fn every_interpolation_form() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  s:\n    image: \"${IMG}\"\n    labels:\n      a: \"${UNSET:-d1}\"\n      b: \"${EMPTY:-d2}\"\n      \
         c: \"${EMPTY-d3}\"\n      d: \"${UNSET-d4}\"\n      e: \"${SET:+alt}\"\n      f: \"${EMPTY+alt2}\"\n      \
         g: \"${UNSET:+never}\"\n      h: \"$$SET and $${SET}\"\n      i: \"${UNSET:-${ALSO_UNSET:-${SET}}}\"\n      \
         j: \"${SET:?unused}\"\n      k: \"$SET/${SET}\"\n    privileged: \"${PRIV:-true}\"\n    cpus: \"${CPUS}\"\n",
    );
    let mut o = opts(dir.path(), &[]);
    o.environment.extend([
        ("IMG".to_owned(), "nginx".to_owned()),
        ("SET".to_owned(), "v".to_owned()),
        ("EMPTY".to_owned(), String::new()),
        ("CPUS".to_owned(), "0.5".to_owned()),
    ]);
    let l = load(&o).unwrap();
    let s = &l.config["services"]["s"];
    assert_eq!(s["image"], "nginx");
    let want = json!({"a": "d1", "b": "d2", "c": "", "d": "d4", "e": "alt", "f": "alt2", "g": "",
        "h": "$SET and ${SET}", "i": "v", "j": "v", "k": "v/v"});
    assert_eq!(s["labels"], want);
    assert_eq!(s["privileged"], true);
    assert_eq!(s["cpus"], 0.5);
    assert!(l.project.services["s"].privileged);
}

#[test]
fn undefined_required_variable_names_file_and_line() {
    let e = err_text(
        "services:\n  s:\n    image: x\n    environment:\n      DB: ${DB_URL:?set DB_URL first}\n",
    );
    assert!(e.contains("compose.yaml:5:"), "{e}");
    assert!(
        e.contains("required variable DB_URL is missing a value: set DB_URL first"),
        "{e}"
    );
    let e = err_text("services:\n  s:\n    image: ${BROKEN\n");
    assert!(
        e.contains("compose.yaml:3:") && e.contains("invalid interpolation"),
        "{e}"
    );
}

#[test]
fn unset_variable_warns() {
    let l = load_text("services:\n  s:\n    image: \"x${NOPE}\"\n").unwrap();
    assert_eq!(l.warnings.len(), 1);
    assert!(l.warnings[0]
        .to_string()
        .contains("compose.yaml:3: the \"NOPE\" variable is not set"));
}

#[test]
fn env_precedence_dotenv_env_file_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".env",
        "A=dotenv\nB=dotenv\nC=dotenv\nREF=${C}-ref\n",
    );
    write(dir.path(), "other.env", "A=other\n");
    write(
        dir.path(),
        "svc.env",
        "FROM_FILE=1\nOVERRIDDEN=file\nINTERP=${B}\n",
    );
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  s:\n    image: \"$A-$B-$C-$REF\"\n    env_file: svc.env\n    \
         environment:\n      - OVERRIDDEN=env\n      - B\n      - NOT_ANYWHERE\n",
    );
    let mut o = opts(dir.path(), &[]);
    o.environment.insert("B".into(), "os".into());
    let l = load(&o).unwrap();
    let s = &l.config["services"]["s"];
    // The OS environment wins over .env; .env values refer to each other.
    assert_eq!(s["image"], "dotenv-os-dotenv-dotenv-ref");
    assert_eq!(
        s["environment"],
        json!({"B": "os", "FROM_FILE": "1", "INTERP": "os", "NOT_ANYWHERE": null, "OVERRIDDEN": "env"})
    );
    assert!(s.get("env_file").is_none());
    // --env-file replaces .env; env_file values do not reach interpolation.
    o.env_files = vec!["other.env".into()];
    let l = load(&o).unwrap();
    assert_eq!(l.config["services"]["s"]["image"], "other-os--");
    // A required env_file that is missing is an error with its line.
    let e = err_text("services:\n  s:\n    image: x\n    env_file:\n      - missing.env\n");
    assert!(
        e.contains("compose.yaml:5:") && e.contains("missing.env"),
        "{e}"
    );
    let l = load_text("services:\n  s:\n    image: x\n    env_file:\n      - path: missing.env\n        required: false\n").unwrap();
    assert!(l.config["services"]["s"]
        .get("environment")
        .is_none_or(|e| e == &json!({})));
}

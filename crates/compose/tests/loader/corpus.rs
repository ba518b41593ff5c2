//! compose-go's test data: its dotenv fixtures, loader and CLI files, and its own tests' expectations;
//! `config`'s output against the spec's schema.

use super::*;

#[test]
fn dotenv_fixtures_of_compose_go() {
    let Some(corpus) = corpus() else {
        panic!("the compose-go corpus is missing from tests/corpus");
    };
    let fixtures = corpus.join("dotenv/fixtures");
    let parse = |name: &str| {
        let text = fs::read_to_string(fixtures.join(name)).unwrap();
        minotaur_compose::dotenv::parse(&text, &|n| {
            (n == "VAR_TO_BE_LOADED_FROM_OS_ENV").then(|| "from_os".to_owned())
        })
    };
    let expect = |name: &str, want: &[(&str, &str)]| {
        let got = parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want: BTreeMap<String, String> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let got: BTreeMap<String, String> = got.into_iter().collect();
        assert_eq!(got, want, "{name}");
    };
    let plain = [
        ("OPTION_A", "1"),
        ("OPTION_B", "2"),
        ("OPTION_C", "3"),
        ("OPTION_D", "4"),
        ("OPTION_E", "5"),
        ("456", "ABC"),
        ("OPTION_F", ""),
        ("OPTION_G", ""),
        ("OPTION_H", "my string"),
    ];
    expect("plain.env", &plain);
    expect("utf8-bom.env", &plain);
    expect(
        "quoted.env",
        &[
            ("OPTION_A", "1"),
            ("OPTION_B", "2"),
            ("OPTION_C", ""),
            ("OPTION_D", "\\n"),
            ("OPTION_E", "1"),
            ("OPTION_F", "2"),
            ("OPTION_G", ""),
            ("OPTION_H", "\n"),
            ("OPTION_I", "echo 'asd'"),
            ("OPTION_J", "first line\nsecond line\nthird line\nand so on"),
            ("OPTION_K", "Let's go!"),
            ("OPTION_Z", "last value"),
        ],
    );
    expect(
        "unquoted.env",
        &[
            ("OPTION_A", "some quoted phrase"),
            ("OPTION_B", "first one with an unquoted phrase"),
            ("OPTION_C", "then another one with an unquoted phrase"),
            (
                "OPTION_D",
                "then another one with an unquoted phrase special è char",
            ),
            ("OPTION_E", "then another one quoted phrase"),
        ],
    );
    expect("exported.env", &[("OPTION_A", "2"), ("OPTION_B", "\\n")]);
    expect(
        "equals.env",
        &[(
            "OPTION_A",
            "postgres://localhost:5432/database?sslmode=disable",
        )],
    );
    expect(
        "substitutions.env",
        &[
            ("OPTION_A", "1"),
            ("OPTION_B", "1"),
            ("OPTION_C", "1"),
            ("OPTION_D", "1_1"),
            ("OPTION_E", ""),
        ],
    );
    expect(
        "substitutions-default.env",
        &[
            ("OPTION_A", "1"),
            ("OPTION_B", "1"),
            ("OPTION_C", "1"),
            ("OPTION_D", "1_1"),
            ("OPTION_E", ""),
        ],
    );
    expect(
        "special.env",
        &[
            ("VAR.WITH.DOTS", "dots"),
            ("VAR_WITH_UNDERSCORES", "underscores"),
            ("VAR-WITH-DASHES", "dashes"),
        ],
    );
    expect("custom.format", &[("FOO", "BAR"), ("ZOT", "QIX")]);
    expect(
        "inherited-single-var.env",
        &[("VAR_TO_BE_LOADED_FROM_OS_ENV", "from_os")],
    );
    expect(
        "inherited-multi-var.env",
        &[
            ("foo", "bar"),
            ("VAR_TO_BE_LOADED_FROM_OS_ENV", "from_os"),
            ("bar", "baz"),
        ],
    );
    expect("inherited-not-found.env", &[]);
    let e = parse("invalid1.env").unwrap_err().to_string();
    assert!(e.contains("line 7: key cannot contain a space"), "{e}");
}

/// Every file of compose-go's loader testdata: what loads, loads; what compose rejects, fails with the
/// reason the spec implies.
#[test]
fn compose_go_loader_corpus() {
    let Some(corpus) = corpus() else {
        panic!("the compose-go corpus is missing from tests/corpus");
    };
    let data = corpus.join("loader/testdata");
    let run = |file: &str, env: &[(&str, &str)]| {
        let path = data.join(file);
        let mut o = opts(
            path.parent().unwrap(),
            &[path.file_name().unwrap().to_str().unwrap()],
        );
        o.project_name = Some("corpus".into());
        o.environment
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        load(&o)
    };
    let ok = |file: &str| run(file, &[]).unwrap_or_else(|e| panic!("{file}: {e}"));
    let fails = |file: &str, what: &str| {
        let e = run(file, &[]).map(|_| ()).expect_err(file).to_string();
        assert!(e.contains(what), "{file}: {e}");
    };

    let l = ok("compose-test-extends.yaml");
    let imported = &l.config["services"]["importer"];
    assert_eq!(imported["image"], "nginx");
    assert_eq!(imported["container_name"], "imported");
    assert_eq!(imported["environment"], json!({"SOURCE": "extends"}));
    assert_eq!(imported["volumes"][0]["source"], "/opt/data");

    let l = ok("compose-include.yaml");
    assert_eq!(
        l.config["services"]["imported"]["environment"],
        json!({"SOURCE": "extends"})
    );
    assert_eq!(
        l.config["services"]["bar"]["environment"],
        json!({"FOO": "BAR"})
    );

    let l = ok("compose-test-with-version.yaml");
    assert!(l
        .warnings
        .iter()
        .any(|w| w.message.contains("`version` is obsolete")));
    assert!(l
        .warnings
        .iter()
        .any(|w| w.message.contains("volumes_from is not supported")));
    assert_eq!(l.config["services"]["other"]["command"], json!(["top"]));

    fails("compose-depends-on-cycle.yaml", "dependency cycle");
    fails(
        "compose-depends-on-profile-no-cycle.yaml",
        "dependency cycle",
    );
    fails(
        "compose-depends-on-self.yaml",
        "dependency cycle: service1 -> service1",
    );
    fails("compose-include-cycle.yaml", "include cycle");
    fails("empty.yaml", "empty compose file");

    let l = ok("combined/compose.yaml");
    assert_eq!(
        l.config["services"]["service"]["build"]["context"],
        data.join("combined/dir").to_str().unwrap()
    );

    let l = ok("include/compose.yaml");
    assert_eq!(
        l.config["services"]["included"]["volumes"][0]["source"],
        data.join("include").to_str().unwrap()
    );
    let l = ok("include/project-directory.yaml");
    assert_eq!(
        l.config["services"]["service"]["environment"],
        json!({"SOURCE": "extends"})
    );
    // TestIncludeWithProjectDirectory: paths are the included project's directory's.
    assert_eq!(
        l.config["services"]["service"]["build"]["context"],
        data.join("subdir").to_str().unwrap()
    );
    assert_eq!(
        l.config["services"]["service"]["volumes"][0]["source"],
        data.join("subdir/compose-test-extends-imported.yaml")
            .to_str()
            .unwrap()
    );

    // base.yaml is only a base to extend: on its own, its empty service `nil` is not a mapping.
    fails(
        "extends/base.yaml",
        "base.yaml:25: services.nil: null is not of type \"object\"",
    );
    let dir = tempfile::tempdir().unwrap();
    let base = data.join("extends/base.yaml");
    let text = format!(
        "services:\n  test1: {{extends: {{file: {b}, service: base}}, hostname: test1}}\n  \
         test3: {{extends: {{file: {b}, service: another}}, hostname: test3}}\n  \
         ulimits: {{extends: {{file: {b}, service: withUlimits}}}}\n  \
         build: {{extends: {{file: {b}, service: with-build}}}}\n  \
         nil: {{image: test, extends: {{file: {b}, service: nil}}}}\n",
        b = base.display()
    );
    write(dir.path(), "compose.yaml", &text);
    let l = load(&opts(dir.path(), &[])).unwrap();
    let s = &l.config["services"];
    assert_eq!(
        (&s["test1"]["image"], &s["test1"]["hostname"]),
        (&json!("base"), &json!("test1"))
    );
    assert_eq!(
        (&s["test3"]["image"], &s["test3"]["hostname"]),
        (&json!("base"), &json!("test3"))
    );
    assert_eq!(
        s["ulimits"]["ulimits"],
        json!({"nproc": 65535, "nofile": {"soft": 20000, "hard": 40000}})
    );
    assert_eq!(
        s["build"]["build"]["context"],
        data.join("extends").to_str().unwrap()
    );
    assert_eq!(s["nil"]["image"], "test");
    let l = ok("extends/nested.yaml");
    assert_eq!(
        l.config["services"]["with-build"]["build"]["context"],
        data.join("extends").to_str().unwrap()
    );
    let l = ok("extends/withdir/compose.yaml");
    assert_eq!(l.config["services"]["test"]["image"], "hello-world");
    let l = ok("extends/reset.yaml");
    assert!(l.config["services"]["base"].get("command").is_none());
    let l = run("extends/interpolated.yaml", &[("SOURCE", "/src")]).unwrap();
    assert_eq!(l.config["services"]["foo"]["volumes"][0]["source"], "/src");
    let l = ok("extends/interpolated.yaml");
    assert_eq!(
        l.config["services"]["foo"]["volumes"][0]["source"],
        "/dev/null"
    );
    let l = ok("extends/depends_on.yaml");
    assert_eq!(
        l.config["services"]["with_network_mode"]["depends_on"]["zot"]["restart"],
        true
    );
    ok("extends/ports.yaml");
    ok("extends/sibling.yaml");

    let l = ok("compose-test-extends-with-context-url.yaml");
    assert_eq!(
        l.config["services"]["importer-with-https-url"]["build"]["context"],
        "https://github.com/docker/compose.git"
    );
    fails(
        "remote/cycle/compose.yaml",
        "remote files are not supported",
    );
    fails(
        "remote/nested/compose.yaml",
        "remote files are not supported",
    );
    let l = ok("remote/compose.yaml");
    assert_eq!(
        l.config["services"]["foo"]["environment"],
        json!({"FOO": "BAR"})
    );
}

#[test]
fn compose_go_cli_corpus() {
    let Some(corpus) = corpus() else {
        panic!("the compose-go corpus is missing from tests/corpus");
    };
    let dir = corpus.join("cli/testdata");
    // .env in the project directory sets the project name and is used for interpolation.
    let simple = dir.join("simple");
    let l = load(&opts(&simple, &["compose-with-variables.yaml"])).unwrap();
    assert_eq!(
        l.config["services"]["simple"]["ports"][0]["published"],
        "8000"
    );
    assert_eq!(l.project.name, "simple");
    let mut o = opts(&simple, &["compose-name.yaml"]);
    o.environment.insert("TEST".into(), "Value".into());
    assert_eq!(load(&o).unwrap().project.name, "test-value-test");
    let l = load(&opts(
        &simple,
        &["compose.yaml", "compose-with-overrides.yaml"],
    ))
    .unwrap();
    assert_eq!(l.config["services"]["simple"]["image"], "haproxy");
    let l = load(&opts(&simple, &["compose-with-paths.yaml"])).unwrap();
    assert_eq!(
        l.config["services"]["test"]["volumes"][1]["source"],
        simple.join("relative").to_str().unwrap()
    );
    assert_eq!(
        l.config["services"]["test"]["volumes"][2]["source"],
        simple.join("relative2").to_str().unwrap()
    );

    // COMPOSE_FILE and COMPOSE_PROJECT_NAME from .env, env_file for the container, --env-file overrides.
    let envdir = dir.join("env-file");
    let mut o = opts(&envdir, &["compose-with-env-files.yaml"]);
    let l = load(&o).unwrap();
    assert_eq!(l.project.name, "my_project_from_dot_env");
    assert_eq!(
        l.config["services"]["simple"]["ports"][0]["published"],
        "8000"
    );
    assert_eq!(
        l.config["services"]["simple"]["environment"],
        json!({"DEFAULT_PORT": "9090"})
    );
    o.env_files = vec!["override.env".into()];
    let l = load(&o).unwrap();
    assert_eq!(
        l.config["services"]["simple"]["ports"][0]["published"],
        "9000"
    );
    assert_eq!(l.project.name, "env-file");

    let unnormalized = dir.join("UNNORMALIZED PATH");
    assert_eq!(
        load(&opts(&unnormalized, &[])).unwrap().project.name,
        "unnormalizedpath"
    );
}

#[test]
fn config_output_validates_against_the_schema_and_round_trips() {
    let l = load_text(TUTORIAL).unwrap();
    let yaml = minotaur_compose::output::to_yaml(&l.config);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "compose.yaml", &yaml);
    let mut o = opts(dir.path(), &[]);
    o.project_name = Some(l.project.name.clone());
    let again = load(&o).unwrap();
    assert_eq!(again.config, l.config);
}

/// The expectations of compose-go's own tests on the corpus files that `compose_go_loader_corpus` and
/// `compose_go_cli_corpus` do not already check (docs/compose-go-corpus.md lists every file and test).
#[test]
fn compose_go_test_expectations() {
    let Some(corpus) = corpus() else {
        panic!("the compose-go corpus is missing from tests/corpus");
    };
    let data = corpus.join("loader/testdata");
    let dir = tempfile::tempdir().unwrap();
    let inline = |text: &str, env: &[(&str, &str)]| {
        write(dir.path(), "compose.yaml", text);
        let mut o = opts(dir.path(), &[]);
        o.environment
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        load(&o)
    };
    let base = data.join("extends/base.yaml");

    // TestExtendsPort: the base's port.
    let l = inline(
        &format!(
            "services:\n  test:\n    image: test\n    extends: {{file: {}, service: with-port}}\n",
            base.display()
        ),
        &[],
    )
    .unwrap();
    assert_eq!(l.config["services"]["test"]["ports"][0]["target"], 8000);

    // TestExtendsPortOverride: extending a service of a file that is also loaded keeps one port.
    let ports = data.join("extends/ports.yaml");
    write(
        dir.path(),
        "override.yaml",
        &format!(
            "services:\n  test:\n    extends: {{file: {}, service: test}}\n",
            ports.display()
        ),
    );
    let mut o = opts(dir.path(), &[ports.to_str().unwrap(), "override.yaml"]);
    o.project_name = Some("corpus".into());
    let l = load(&o).unwrap();
    assert_eq!(
        l.config["services"]["test"]["ports"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{}",
        l.config["services"]["test"]
    );

    // TestExtendsWihtMissingService: `extends` without `service`.
    let e = inline(
        &format!(
            "services:\n  test:\n    image: test\n    extends:\n      file: {}\n",
            base.display()
        ),
        &[],
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(e.contains("service"), "{e}");

    // TestExtendsWithServiceRef: what the extended service refers to must exist in the extending file.
    let refs = data.join("extends/depends_on.yaml");
    for service in [
        "with_depends_on",
        "with_volumes_from",
        "with_ipc",
        "with_network_mode",
    ] {
        let text = format!(
            "services:\n  bar:\n    extends: {{file: {}, service: {service}}}\n",
            refs.display()
        );
        let e = inline(&text, &[]).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("bar") && e.contains("zot"), "{service}: {e}");
        inline(&format!("{text}  zot:\n    image: zot\n"), &[])
            .unwrap_or_else(|e| panic!("{service} with zot: {e}"));
    }

    // TestLoadWithInclude: an include's env_file interpolates the included file; the environment wins.
    let imported = data.join("subdir/compose-test-extends-imported.yaml");
    let extra = data.join("subdir/extra.env");
    let text = format!(
        "name: test-include\ninclude:\n  - path: {}\n    env_file: {}\nservices:\n  foo:\n    image: busybox\n    depends_on: [imported]\n",
        imported.display(),
        extra.display()
    );
    let l = inline(&text, &[]).unwrap();
    let s = &l.config["services"]["imported"];
    assert_eq!(s["container_name"], "extends");
    assert_eq!(s["image"], "nginx");
    assert_eq!(s["environment"], json!({"SOURCE": "extends"}));
    assert_eq!(s["volumes"][0]["source"], "/opt/data");
    assert_eq!(s["volumes"][0]["target"], "/var/lib/mysql");
    assert_eq!(
        l.config["services"]["foo"]["depends_on"]["imported"],
        json!({"condition": "service_started", "required": true})
    );
    let l = inline(&text, &[("SOURCE", "override")]).unwrap();
    assert_eq!(
        l.config["services"]["imported"]["container_name"],
        "override"
    );

    // TestProjectWithDiscardEnvFile (docker compose's `config` discards env_file too): the file's
    // variables are the container's environment.
    let envdir = corpus.join("cli/testdata/env-file");
    let l = load(&opts(&envdir, &["compose-with-env-file.yaml"])).unwrap();
    let s = &l.config["services"]["simple"];
    assert_eq!(s["environment"], json!({"DEFAULT_PORT": "8080"}));
    assert!(s.get("env_file").is_none(), "{s}");
    assert_eq!(s["ports"][0]["published"], "8000");
    // TestProjectName "by .env": no file named, COMPOSE_FILE and COMPOSE_PROJECT_NAME from .env.
    let l = load(&opts(&envdir, &[])).unwrap();
    assert_eq!(l.project.name, "my_project_from_dot_env");
    assert_eq!(l.files, [envdir.join("compose-with-env-file.yaml")]);

    // TestComposeFileWithVersion (compose-go's test skips normalisation; what `config` adds to it is the
    // default network, resource names, the default Dockerfile and the dependency volumes_from implies).
    let path = data.join("compose-test-with-version.yaml");
    let mut o = opts(path.parent().unwrap(), &["compose-test-with-version.yaml"]);
    o.environment
        .insert("QUX".into(), "qux_from_environment".into());
    let l = load(&o).unwrap();
    let web = &l.config["services"]["web"];
    assert_eq!(
        web["build"],
        json!({"context": data.join("Dockerfile").to_str().unwrap(), "dockerfile": "Dockerfile"})
    );
    assert_eq!(web["networks"], json!({"front": null, "default": null}));
    assert_eq!(web["volumes_from"], json!(["other"]));
    assert_eq!(
        web["depends_on"],
        json!({"other": {"condition": "service_started", "required": true}})
    );
    let other = &l.config["services"]["other"];
    assert_eq!(other["image"], "busybox:1.31.0-uclibc");
    assert_eq!(other["command"], json!(["top"]));
    assert_eq!(
        other["volumes"],
        json!([{"type": "volume", "target": "/data", "volume": {}}])
    );
    assert_eq!(
        l.config["volumes"]["data"],
        json!({"driver": "local", "name": "compose-test-with-version_data"})
    );
    assert_eq!(
        l.config["networks"]["front"],
        json!({"ipam": {}, "name": "compose-test-with-version_front"})
    );

    // TestValidateVariables: the schema accepts a file whose values are still variables (the schema is
    // checked on the raw file here, as compose-go's test does; the loader checks it after interpolation).
    let path = corpus.join("schema/using-variables.yaml");
    let raw = fs::read_to_string(&path).unwrap();
    let doc = minotaur_compose::yaml::parse(&raw, &path).unwrap();
    minotaur_compose::schema::validate(&doc[0]).unwrap();
}

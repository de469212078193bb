//! The client against the emulator: the flows dune_fdw relies on, and its behaviour under
//! faults (what is retried, what is never sent twice).

use dune_api::{
    ApiKey, Cancel, Client, ClientConfig, Error, ExecState, ExecutionId, NotFound, Pager, Params,
    Performance, QueryId, Read, ReadEvent, ReadSpec, ResultSource, Sql, Started, read,
};
use dune_emulator::faults::FaultRule;
use dune_emulator::{DEFAULT_API_KEY, Emulator};
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};

fn emulator() -> Emulator {
    let emu = Emulator::start_default().expect("emulator starts");
    emu.settings(|s| {
        s.pending_ms = 20;
        s.execution_ms = 80;
    });
    emu
}

fn client_with(emu: &Emulator, key: &str, f: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut config = ClientConfig::new(&emu.api_url(), ApiKey::new(key)).unwrap();
    config.max_retry_wait = Duration::from_secs(2);
    f(&mut config);
    Client::new(config, Cancel::new())
}

fn client(emu: &Emulator) -> Client {
    client_with(emu, DEFAULT_API_KEY, |_| {})
}

fn fault(v: Value) -> FaultRule {
    serde_json::from_value(v).unwrap()
}

fn q(id: i64) -> QueryId {
    QueryId::try_from(id).unwrap()
}

fn params(v: Option<&Value>) -> Option<Params> {
    Params::from_json(v.cloned()).unwrap()
}

fn latest(query: i64, p: Option<&Value>, read: Read, limit: Option<u64>, size: u64) -> Pager {
    Pager::latest(q(query), params(p).as_ref(), read, limit, size)
}

fn of(id: &ExecutionId, size: u64) -> Pager {
    Pager::execution(id.clone(), Read::default(), None, size)
}

fn all_rows(client: &Client, mut pager: Pager) -> Vec<Map<String, Value>> {
    let mut rows = Vec::new();
    while let Some(page) = pager.next_page(client).unwrap() {
        rows.extend(page.rows.into_maps());
    }
    rows
}

fn run(client: &Client, query_id: i64, p: Option<&Value>) -> ExecutionId {
    let id = client
        .execute_query(q(query_id), params(p).as_ref(), None)
        .unwrap();
    let status = client.wait(&id, Duration::from_secs(10)).unwrap();
    assert_eq!(status.state, ExecState::Completed);
    id
}

#[test]
fn execute_wait_and_read_every_page() {
    let emu = emulator();
    let c = client(&emu);
    let id = run(&c, 1_252_207, None);
    let rows = all_rows(&c, of(&id, 5));
    assert_eq!(rows.len(), 28);
    assert_eq!(rows[0]["project"], "opensea");
    assert_eq!(rows[27]["Rank"], 28);
    assert_eq!(emu.stats().requests["results"], 6, "28 rows in pages of 5");
}

#[test]
fn latest_results_by_parameter_combination() {
    let emu = emulator();
    let c = client(&emu);
    let week = json!({"Time Period": "week"});
    let mut pager = latest(1_252_207, Some(&week), Read::default(), None, 100);
    let err = pager.next_page(&c).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                what: NotFound::LatestResult,
                ..
            }
        ),
        "{err:?}"
    );
    run(&c, 1_252_207, Some(&week));
    let rows = all_rows(
        &c,
        latest(1_252_207, Some(&week), Read::default(), None, 10),
    );
    assert_eq!(rows.len(), 28);
    let log = emu.stats().log;
    assert!(
        log.iter()
            .any(|e| e.query.contains("params.Time%20Period=week")),
        "params travel as params.<name>"
    );
}

#[test]
fn columns_filters_and_sort_are_sent_and_honoured() {
    let emu = emulator();
    let c = client(&emu);
    let read = Read {
        columns: Some(vec!["project".into(), "Total Volume".into()]),
        filters: Some("\"Total Volume\" > 1e9 AND project <> 'blur'".into()),
        sort_by: Some("\"Total Volume\" asc".into()),
        sample_count: None,
    };
    let rows = all_rows(&c, latest(1_252_207, None, read, None, 100));
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["project"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["looksrare", "cryptopunks", "x2y2", "opensea"]);
    assert_eq!(rows[0].len(), 2, "only the requested columns");
    assert_eq!(emu.stats().datapoints_served, 8);
}

#[test]
fn a_limit_reads_one_small_page_of_a_huge_result() {
    let emu = emulator();
    let c = client(&emu);
    let mut pager = latest(9_100_002, None, Read::default(), Some(10), 32_000);
    let page = pager.next_page(&c).unwrap().unwrap();
    assert_eq!(page.rows.len(), 10);
    assert!(pager.next_page(&c).unwrap().is_none());
    let stats = emu.stats();
    assert_eq!(stats.results_requests, 1);
    assert_eq!(stats.datapoints_served, 100);
    assert_eq!(page.metadata.unwrap().total_row_count, Some(5_000_000));
}

#[test]
fn rejected_key_never_appears_in_the_error() {
    let emu = emulator();
    let c = client_with(&emu, "sk_secret_wrong_key", |_| {});
    let err = c.execute_query(q(1_258_228), None, None).unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Dune rejected the API key: invalid API Key"
    );
    assert!(!format!("{err:?}").contains("sk_secret"));
}

#[test]
fn rate_limits_are_retried_honouring_retry_after() {
    let emu = emulator();
    let c = client(&emu);
    emu.add_fault(fault(
        json!({"route": "latest", "status": 429, "retry_after": "1"}),
    ));
    let start = Instant::now();
    let rows = all_rows(&c, latest(3_493_826, None, Read::default(), None, 100));
    assert_eq!(rows.len(), 8);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "waited as Retry-After asked"
    );
    assert_eq!(emu.stats().requests["latest"], 2);
}

#[test]
fn broken_middle_pages_are_retried_without_losing_or_doubling_rows() {
    let emu = emulator();
    let c = client(&emu);
    let id = run(&c, 1_252_207, None);
    let expected = all_rows(&c, of(&id, 4));
    emu.add_fault(fault(
        json!({"route": "results", "skip": 2, "cut_after": 40}),
    ));
    emu.add_fault(fault(json!({"route": "results", "skip": 1, "status": 503})));
    emu.add_fault(fault(json!({"route": "results", "skip": 3, "reset": true})));
    let got = all_rows(&c, of(&id, 4));
    assert_eq!(got, expected);
    assert_eq!(emu.stats().faults_injected, 3);
}

#[test]
fn execute_is_never_sent_twice_once_it_may_have_reached_dune() {
    let emu = emulator();
    let c = client(&emu);
    emu.add_fault(fault(json!({"route": "execute", "reset": true})));
    let err = c.execute_query(q(1_258_228), None, None).unwrap_err();
    assert!(err.maybe_executed(), "{err:?}");
    let stats = emu.stats();
    assert_eq!(stats.requests["execute"], 1);
    assert_eq!(stats.executions_created, 1);

    emu.add_fault(fault(json!({"route": "execute", "status": 502})));
    let err = c.execute_query(q(1_258_228), None, None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Server {
                status: 502,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );

    emu.add_fault(fault(
        json!({"route": "execute", "status": 429, "retry_after": "0"}),
    ));
    c.execute_query(q(1_258_228), None, None).unwrap();
    let stats = emu.stats();
    assert_eq!(stats.requests["execute"], 4, "the 429 was retried once");
    assert_eq!(stats.executions_created, 2);
}

#[test]
fn a_stalled_status_times_out_and_is_retried() {
    let emu = emulator();
    let c = client_with(&emu, DEFAULT_API_KEY, |cfg| {
        cfg.request_timeout = Duration::from_millis(300)
    });
    let id = run(&c, 3_493_826, None);
    emu.add_fault(fault(json!({"route": "status", "stall_ms": 2000})));
    let start = Instant::now();
    assert_eq!(c.status(&id).unwrap().state, ExecState::Completed);
    assert!(start.elapsed() < Duration::from_millis(1900));
    emu.add_fault(fault(
        json!({"route": "status", "stall_ms": 2000, "times": 10}),
    ));
    let c = client_with(&emu, DEFAULT_API_KEY, |cfg| {
        cfg.request_timeout = Duration::from_millis(200);
        cfg.max_retries = 1;
    });
    let err = c.status(&id).unwrap_err();
    assert!(matches!(err, Error::Timeout { attempts: 2, .. }), "{err:?}");
}

#[test]
fn failures_and_cancellations_surface_with_dune_words() {
    let emu = emulator();
    let c = client(&emu);
    let id = c.execute_query(q(9_000_002), None, None).unwrap();
    let status = c.wait(&id, Duration::from_secs(10)).unwrap();
    assert_eq!(status.state, ExecState::Failed);
    let mut pager = of(&id, 10);
    let err = pager.next_page(&c).unwrap_err();
    assert!(
        err.to_string()
            .contains("Column 'amount' cannot be resolved"),
        "{err}"
    );

    let slow = c
        .execute_query(
            q(9_000_003),
            None,
            Some(&Performance::try_from("large").unwrap()),
        )
        .unwrap();
    assert!(c.cancel_execution(&slow).unwrap());
    let mut pager = of(&slow, 10);
    let err = pager.next_page(&c).unwrap_err();
    assert!(
        matches!(&err, Error::ExecutionEnded { state, .. } if state == "QUERY_STATE_CANCELLED"),
        "{err:?}"
    );
    assert_eq!(emu.stats().cancelled, vec![slow.to_string()]);
}

#[test]
fn raw_sql_and_csv_pages() {
    let emu = emulator();
    let c = client(&emu);
    let sql = Sql::try_from("select * from query_3493826").unwrap();
    let id = c.execute_sql(&sql, None).unwrap();
    let csv = c.result_csv(&id, Duration::from_secs(10), 3).unwrap();
    assert_eq!(emu.stats().requests["results_csv"], 3, "three pages");
    assert_eq!(csv.lines().count(), 9);
    assert_eq!(csv.lines().next(), Some("ct,TableName"));
    assert_eq!(csv.matches("ct,TableName").count(), 1);
}

#[test]
fn bad_input_is_refused_before_sending() {
    let emu = emulator();
    let c = client(&emu);
    assert!(QueryId::try_from(0).is_err());
    assert!(Params::from_json(Some(json!([1, 2]))).is_err());
    assert!(Performance::try_from("turbo").is_err());
    assert!(ExecutionId::try_from("../query/1").is_err());
    assert_eq!(emu.stats().total_requests, 0);
    let err = c
        .execute_query(
            q(1_252_207),
            params(Some(&json!({"Nope": 1}))).as_ref(),
            None,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Dune rejected the request: unknown parameters (Nope)"
    );
}

#[test]
fn cancelling_stops_a_backoff_at_once() {
    let emu = emulator();
    let c = client(&emu);
    emu.add_fault(fault(
        json!({"route": "latest", "status": 429, "retry_after": "30"}),
    ));
    let flag = c.cancel_flag().clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        flag.cancel();
    });
    let start = Instant::now();
    let mut pager = latest(3_493_826, None, Read::default(), None, 10);
    assert_eq!(pager.next_page(&c).unwrap_err(), Error::Cancelled);
    assert!(start.elapsed() < Duration::from_secs(2));
    t.join().unwrap();
}

#[test]
fn progress_reports_the_execution_its_states_and_its_pages() {
    let emu = emulator();
    let (tx, rx) = std::sync::mpsc::channel();
    let client = client(&emu).with_progress(dune_api::ProgressSink::new(tx));
    let params = json!({"rows": "2500"});
    let id = run(&client, 9100001, Some(&params));
    let rows = all_rows(&client, of(&id, 1000));
    assert_eq!(rows.len(), 2500);
    let events: Vec<dune_api::Progress> = rx.try_iter().collect();
    assert_eq!(
        events[0],
        dune_api::Progress::Started {
            execution_id: id.to_string(),
            query_id: Some(9100001)
        }
    );
    let states: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            dune_api::Progress::State { state, .. } => Some(state.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(states.last(), Some(&"QUERY_STATE_COMPLETED"), "{states:?}");
    let pages: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            dune_api::Progress::Page { rows, .. } => Some(*rows),
            _ => None,
        })
        .collect();
    assert_eq!(pages, vec![1000, 1000, 500]);
}

// The armed list is global to the test process: this is the only test here that arms a guard.
#[test]
fn an_exiting_process_cancels_what_its_threads_left_running() {
    let emu = emulator();
    emu.settings(|s| s.execution_ms = 60_000);
    let client = client(&emu);
    let id = client.execute_query(q(9100001), None, None).unwrap();
    let config = client.config().clone();
    let owner = Cancel::new();
    let guard = dune_api::AbandonGuard::new(&config, &id, &owner);
    // the thread holding the guard dies with the process: its destructor never runs
    std::mem::forget(guard);
    assert_eq!(dune_api::cancel_armed(Duration::from_secs(3)), 1);
    assert_eq!(emu.stats().cancelled, vec![id.to_string()]);
    assert_eq!(
        dune_api::cancel_armed(Duration::from_secs(3)),
        0,
        "each execution is cancelled once"
    );
}

#[test]
fn a_request_too_long_for_the_front_end_is_read_again_without_its_filters() {
    use dune_api::{ReadEvent, ReadSpec, ResultSource, Started, read};
    let emu = emulator();
    let c = client(&emu);
    let values: Vec<String> = (0..2000).map(|i| format!("'p{i}'")).collect();
    let spec = ReadSpec {
        source: ResultSource::Latest {
            query: q(1_258_228),
            params: None,
            max_age: None,
            performance: None,
        },
        read: Read {
            columns: Some(vec!["project".into()]),
            filters: Some(format!("project IN ({})", values.join(", "))),
            sort_by: None,
            sample_count: None,
        },
        limit: Some(3),
        offset: 2,
        page_size: 100,
        concurrency: 4,
        wait: Duration::from_secs(10),
    };
    let (mut rows, mut notices, mut widths, mut unfiltered) = (0, Vec::new(), Vec::new(), false);
    read(&c, &spec, &Started::default(), &mut |ev| {
        match ev {
            ReadEvent::Page(p) => {
                rows += p.rows.len();
                widths.extend(p.rows.into_maps().into_iter().map(|r| r.len()));
            }
            ReadEvent::Notice(n) => notices.push(n),
            ReadEvent::Unfiltered => unfiltered = true,
        }
        true
    })
    .unwrap();
    assert_eq!(
        rows, 12,
        "every row: the limit and offset go with the filters"
    );
    assert!(widths.iter().all(|w| *w == 1), "the columns are kept");
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(unfiltered, "the consumer is told to apply them itself");
    assert!(notices[0].contains("HTTP 414"), "{notices:?}");
}

#[test]
fn the_emulated_network_delays_each_answer_and_paces_its_body() {
    let emu = emulator();
    let c = client(&emu);
    let id = run(&c, 9100001, Some(&json!({"rows": "2000"})));
    let start = Instant::now();
    c.status(&id).unwrap();
    let fast = start.elapsed();
    emu.settings(|s| s.latency_ms = 150);
    let start = Instant::now();
    c.status(&id).unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "{:?}",
        start.elapsed()
    );
    assert!(fast < Duration::from_millis(150), "{fast:?}");
    // 2,000 rows are about 450 kB: at 8 Mbit/s (1 MB/s), about 0.45 s
    emu.settings(|s| {
        s.latency_ms = 0;
        s.bandwidth_mbps = 8;
    });
    let start = Instant::now();
    let rows = all_rows(&c, of(&id, 2000));
    assert_eq!(rows.len(), 2000);
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
}

/// Every row `read` hands on for execution `id` (`size` rows a request, `window` in flight),
/// and its notices; `on_page` runs at each page and may stop the read (false).
fn read_all(
    c: &Client,
    id: &ExecutionId,
    (size, window, limit): (u64, usize, Option<u64>),
    on_page: impl FnMut(usize) -> bool,
) -> (Vec<Map<String, Value>>, Vec<String>) {
    let mut spec = ReadSpec::all(
        ResultSource::Execution(id.clone()),
        c.config(),
        Duration::from_secs(10),
    );
    (spec.page_size, spec.concurrency, spec.limit) = (size, window, limit);
    read_with(c, &spec, on_page)
}

/// Every row and notice `read` hands on for `spec`.
fn read_with(
    c: &Client,
    spec: &ReadSpec,
    mut on_page: impl FnMut(usize) -> bool,
) -> (Vec<Map<String, Value>>, Vec<String>) {
    let (mut rows, mut notices, mut pages) = (Vec::new(), Vec::new(), 0);
    read(c, spec, &Started::default(), &mut |event| match event {
        ReadEvent::Page(page) => {
            rows.extend(page.rows.into_maps());
            pages += 1;
            on_page(pages)
        }
        ReadEvent::Notice(n) => {
            notices.push(n);
            true
        }
        ReadEvent::Unfiltered => true,
    })
    .unwrap();
    (rows, notices)
}

/// An emulator, a client, an execution of 2,000 synthetic rows, and its rows as read one page
/// after the other (100 a page); the emulator's counters then start again.
fn two_thousand_rows() -> (Emulator, Client, ExecutionId, Vec<Map<String, Value>>) {
    let emu = emulator();
    let c = client(&emu);
    let id = run(&c, 9100001, Some(&json!({"rows": "2000"})));
    let (rows, _) = read_all(&c, &id, (100, 1, None), |_| true);
    emu.reset_stats();
    (emu, c, id, rows)
}

#[test]
fn several_pages_in_flight_hand_on_the_same_rows_in_order() {
    let emu = emulator();
    let c = client(&emu);
    let id = run(&c, 9100001, Some(&json!({"rows": "2000"})));
    let (one, _) = read_all(&c, &id, (100, 1, None), |_| true);
    assert_eq!(one.len(), 2000);
    let sequential = emu.stats();
    assert_eq!(sequential.most_in_flight, 1);
    emu.reset_stats();
    emu.settings(|s| s.latency_ms = 30);
    let (four, notices) = read_all(&c, &id, (100, 4, None), |_| true);
    assert_eq!(four, one, "the same rows in the same order");
    assert!(notices.is_empty(), "{notices:?}");
    let stats = emu.stats();
    assert_eq!(stats.results_requests, 20, "no page read twice");
    assert_eq!(stats.datapoints_served, sequential.datapoints_served);
    assert_eq!(stats.most_in_flight, 4, "four requests in flight at once");
}

#[test]
fn a_limit_and_an_early_stop_bound_the_pages_read_ahead() {
    let emu = emulator();
    let c = client(&emu);
    let id = run(&c, 9100001, Some(&json!({"rows": "2000"})));
    emu.reset_stats();
    let (rows, _) = read_all(&c, &id, (100, 4, Some(250)), |_| true);
    assert_eq!(rows.len(), 250);
    assert_eq!(emu.stats().rows_served, 250, "the limit bounds the ranges");
    emu.reset_stats();
    // the consumer stops after its second page: at most 4 more were asked for
    let (rows, _) = read_all(&c, &id, (100, 4, None), |pages| pages < 2);
    assert_eq!(rows.len(), 200);
    let served = emu.stats().results_requests;
    assert!((2..=6).contains(&served), "{served} requests");
}

#[test]
fn pages_served_short_are_completed_before_the_next_range() {
    let (emu, c, id, expected) = two_thousand_rows();
    // after the first page, Dune caps pages at fewer rows than the ranges ask for
    let cap_rows = |emu: &Emulator| {
        emu.settings(|s| s.max_datapoints = 30 * 10);
    };
    // (90 rows a request: pages the emulator has not kept from the read above)
    let (got, _) = read_all(&c, &id, (90, 4, None), |pages| {
        if pages == 1 {
            cap_rows(&emu);
        }
        true
    });
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected, "no row skipped or doubled");
    let short = emu
        .stats()
        .log
        .iter()
        .filter(|e| e.route == "results")
        .count();
    assert!(
        short > 2000 / 90 + 1,
        "pages were served short: {short} requests"
    );
}

#[test]
fn faults_among_pages_in_flight_lose_or_double_nothing() {
    let (emu, c, id, expected) = two_thousand_rows();
    emu.settings(|s| s.latency_ms = 20);
    emu.add_fault(fault(json!({"route": "results", "skip": 3, "status": 503})));
    emu.add_fault(fault(json!({"route": "results", "skip": 6, "reset": true})));
    emu.add_fault(fault(
        json!({"route": "results", "skip": 9, "cut_after": 100}),
    ));
    let (got, _) = read_all(&c, &id, (100, 4, None), |_| true);
    assert_eq!(got, expected);
    let stats = emu.stats();
    assert_eq!(stats.faults_injected, 3);
    assert_eq!(stats.executions_created, 0, "one execution: the one read");
}

#[test]
fn a_rate_limit_lowers_the_pages_in_flight_instead_of_failing() {
    let (emu, c, id, expected) = two_thousand_rows();
    emu.settings(|s| s.latency_ms = 20);
    emu.add_fault(fault(
        json!({"route": "results", "skip": 2, "times": 2, "status": 429, "retry_after": "0"}),
    ));
    let (got, notices) = read_all(&c, &id, (100, 4, None), |_| true);
    assert_eq!(got, expected);
    assert!(
        notices.iter().any(|n| n.contains("rate limiting")),
        "{notices:?}"
    );
}

#[test]
fn csv_pages_are_read_several_at_a_time_and_joined_in_order() {
    let emu = emulator();
    let sequential = client_with(&emu, DEFAULT_API_KEY, |c| c.fetch_concurrency = 1);
    let id = run(&sequential, 9100001, Some(&json!({"rows": "2000"})));
    let one = sequential
        .result_csv(&id, Duration::from_secs(10), 100)
        .unwrap();
    assert_eq!(one.lines().count(), 2001);
    emu.reset_stats();
    emu.settings(|s| s.latency_ms = 30);
    let c = client(&emu);
    let four = c.result_csv(&id, Duration::from_secs(10), 100).unwrap();
    assert_eq!(four, one);
    let stats = emu.stats();
    assert_eq!(stats.requests["results_csv"], 20, "no page read twice");
    assert_eq!(stats.most_in_flight, 4);
}

#[test]
fn a_row_count_larger_than_the_filtered_result_reads_nothing_twice_and_nothing_past_its_end() {
    let (emu, c, id, all) = two_thousand_rows();
    // Dune may count the whole result in total_row_count, not the rows the filters keep
    emu.settings(|s| {
        s.total_ignores_filters = true;
        s.latency_ms = 30;
    });
    let mut spec = ReadSpec::all(
        ResultSource::Execution(id.clone()),
        c.config(),
        Duration::from_secs(10),
    );
    spec.read.filters = Some("is_buy = true".into());
    spec.page_size = 100;
    let (got, _) = read_with(&c, &spec, |_| true);
    let expected: Vec<_> = all
        .into_iter()
        .filter(|r| r["is_buy"] == json!(true))
        .collect();
    assert!(expected.len() > 500 && expected.len() < 1500);
    assert_eq!(got, expected, "the filtered rows, in order, once each");
    let pages = expected.len().div_ceil(100) as u64;
    let requests = emu.stats().results_requests;
    assert!(
        requests <= pages + 4,
        "{requests} requests for {pages} pages: ranges past the end were read"
    );
}

/// A client whose reads keep and serve results in `dir` (at most `max_mb` MiB).
fn cached_client(emu: &Emulator, dir: &std::path::Path, max_mb: u64) -> Client {
    client_with(emu, DEFAULT_API_KEY, |c| {
        c.cache = Some(dune_api::CacheSettings {
            dir: dir.to_path_buf(),
            max_bytes: max_mb << 20,
        })
    })
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dune-api-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn spec_of(source: ResultSource, read: Read, rows: (u64, Option<u64>)) -> ReadSpec {
    ReadSpec {
        source,
        read,
        limit: rows.1,
        offset: rows.0,
        page_size: 300,
        concurrency: 2,
        wait: Duration::from_secs(10),
    }
}

#[test]
fn the_cache_serves_a_second_read_and_narrower_ones_without_a_request() {
    let emu = emulator();
    let dir = scratch_dir("second");
    let c = cached_client(&emu, &dir, 64);
    let id = run(&c, 9100001, Some(&json!({"rows": "2000"})));
    let whole = spec_of(
        ResultSource::Execution(id.clone()),
        Read::default(),
        (0, None),
    );
    emu.reset_stats();
    let (first, _) = read_with(&c, &whole, |_| true);
    assert_eq!(first.len(), 2000);
    assert!(
        emu.stats().requests["results"] >= 7,
        "2000 rows in pages of 300"
    );
    emu.reset_stats();
    let (second, _) = read_with(&c, &whole, |_| true);
    assert_eq!(second, first, "the same rows, in the same order");
    assert_eq!(emu.stats().total_requests, 0, "no request the second time");
    // fewer columns and a range: the same entry, no request
    let narrow = Read {
        columns: Some(vec!["project".into()]),
        ..Read::default()
    };
    let (part, _) = read_with(
        &c,
        &spec_of(
            ResultSource::Execution(id.clone()),
            narrow,
            (1500, Some(20)),
        ),
        |_| true,
    );
    assert_eq!(part.len(), 20);
    assert_eq!(part[0]["project"], first[1500]["project"]);
    assert_eq!(emu.stats().total_requests, 0);
    // a column the entry lacks is not held: read from Dune
    let cached = dune_api::ResultCache::for_account(c.config().cache.as_ref().unwrap(), c.config());
    assert_eq!(cached.entries().len(), 1);
    assert_eq!(cached.clear(), 1);
    let (again, _) = read_with(&c, &whole, |_| true);
    assert_eq!(again, first);
    assert!(
        emu.stats().requests["results"] >= 7,
        "read again after clear"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_latest_result_is_checked_with_one_datapoint_and_a_new_one_is_read() {
    let emu = emulator();
    let dir = scratch_dir("latest");
    let c = cached_client(&emu, &dir, 64);
    let p = json!({"rows": "500"});
    run(&c, 9100001, Some(&p));
    let latest = ResultSource::Latest {
        query: q(9100001),
        params: params(Some(&p)),
        max_age: None,
        performance: None,
    };
    let spec = spec_of(latest, Read::default(), (0, None));
    let (first, _) = read_with(&c, &spec, |_| true);
    emu.reset_stats();
    let (second, _) = read_with(&c, &spec, |_| true);
    assert_eq!(second, first);
    let s = emu.stats();
    assert_eq!(
        (s.total_requests, s.datapoints_served),
        (1, 1),
        "one check of one datapoint"
    );
    // a newer execution is the latest now: read, not served from the old entry
    run(&c, 9100001, Some(&p));
    emu.reset_stats();
    let (third, _) = read_with(&c, &spec, |_| true);
    assert_eq!(third.len(), 500);
    assert!(
        emu.stats().datapoints_served > 500,
        "the new execution is read"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_cache_keeps_within_its_bound_and_apart_per_key() {
    let emu = emulator();
    let dir = scratch_dir("bound");
    let c = cached_client(&emu, &dir, 1);
    // about 4 MB of pages: more than the bound, so not kept
    let id = run(&c, 9100001, Some(&json!({"rows": "20000"})));
    let whole = spec_of(
        ResultSource::Execution(id.clone()),
        Read::default(),
        (0, None),
    );
    read_with(&c, &whole, |_| true);
    let cache = dune_api::ResultCache::for_account(c.config().cache.as_ref().unwrap(), c.config());
    assert!(
        cache.entries().is_empty(),
        "an entry over the bound is not kept"
    );
    // small reads are kept; another key does not see them
    let small = spec_of(
        ResultSource::Execution(id.clone()),
        Read::default(),
        (0, Some(10)),
    );
    read_with(&c, &small, |_| true);
    assert_eq!(cache.entries().len(), 1);
    let other = cached_client(&emu, &dir, 1);
    let mut config = other.config().clone();
    config.api_key = ApiKey::new("another-key");
    let theirs = dune_api::ResultCache::for_account(config.cache.as_ref().unwrap(), &config);
    assert!(theirs.entries().is_empty(), "entries are per key");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn queries_are_created_changed_and_a_create_is_never_sent_twice() {
    let emu = emulator();
    let c = client(&emu);
    let mut body = Map::new();
    body.insert("name".into(), json!("made here"));
    body.insert("query_sql".into(), json!("select 1 as one"));
    let id = c.create_query(&body).unwrap();
    let query = q(id);
    assert_eq!(c.get_query(query).unwrap()["name"], "made here");
    let mut changes = Map::new();
    changes.insert("query_sql".into(), json!("select 2 as one"));
    assert_eq!(c.update_query(query, &changes).unwrap(), id);
    let after = c.get_query(query).unwrap();
    assert_eq!(
        (after["query_sql"].as_str(), after["version"].as_u64()),
        (Some("select 2 as one"), Some(2))
    );
    c.query_action(query, dune_api::QueryAction::Archive)
        .unwrap();
    assert_eq!(c.get_query(query).unwrap()["is_archived"], true);
    assert!(c.query_objects(1000).unwrap().iter().any(|o| o["id"] == id));
    assert!(c.usage(None, None).unwrap()["billing_periods"].is_array());
    // a 502 after the create was sent: not sent again, and the error says it may have acted
    emu.reset_stats();
    emu.add_fault(fault(json!({"route": "create_query", "status": 502})));
    let err = c.create_query(&body).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Server {
                maybe_executed: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(emu.stats().requests["create_query"], 1, "sent once");
    // a read key may not write
    let reader = client_with(&emu, "emulator-read-key", |_| {});
    assert!(matches!(
        reader.create_query(&body),
        Err(Error::Forbidden(_))
    ));
    assert_eq!(reader.get_query(query).unwrap()["query_id"], id);
}

#[test]
fn the_same_execution_through_another_parameter_set_is_served_after_one_datapoint() {
    let emu = emulator();
    let dir = scratch_dir("params");
    let c = cached_client(&emu, &dir, 64);
    let latest = |p: Option<Value>| ResultSource::Latest {
        query: q(9000010),
        params: params(p.as_ref()),
        max_age: None,
        performance: None,
    };
    // the query's default start_date, named: the same latest execution as no parameters
    let named = spec_of(
        latest(Some(json!({"start_date": "2024-03-01 00:00:00"}))),
        Read::default(),
        (0, None),
    );
    let (first, _) = read_with(&c, &named, |_| true);
    assert_eq!(first.len(), 30);
    emu.reset_stats();
    let (second, _) = read_with(
        &c,
        &spec_of(latest(None), Read::default(), (0, None)),
        |_| true,
    );
    assert_eq!(second, first);
    let s = emu.stats();
    assert_eq!(
        (s.total_requests, s.datapoints_served),
        (1, 1),
        "one check of one datapoint"
    );
    let cache = dune_api::ResultCache::for_account(c.config().cache.as_ref().unwrap(), c.config());
    assert_eq!(cache.entries().len(), 1, "one entry for one execution");
    let _ = std::fs::remove_dir_all(&dir);
}

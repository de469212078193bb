//! Malformed and mutated API answers: the decoders return a value or an error, never panic.
//! Inputs start from real emulator-shaped bodies and are cut, byte-flipped, or given values of
//! the wrong type; every page that decodes is then prepared for every column type.

#[path = "../../dune-api/tests/common/mod.rs"]
mod common;

use common::Rng;
use dune_api::{Page, Status};
use pg_format::{Target, prepare, prepare_objects};

const PAGE: &str = r#"{"execution_id":"01HKZSJAW6N2MFVCBHA3R8S64X","query_id":1252207,"state":"QUERY_STATE_COMPLETED","is_execution_finished":true,"submitted_at":"2024-01-12T21:34:37.447476Z","execution_ended_at":"2024-01-12T21:34:55.737081Z","result":{"rows":[{"Rank":1,"block_time":"2024-03-05 20:50:59.123 UTC","day":"2024-09-28","hash":"0x540ae872","note":null,"project":"ópënséa ✓","raw":"18446744073709551616","v":2.5,"flag":true,"arr":["0x01",{"k":[1,null]}]},{"Rank":"2","block_time":"2024-03-05T20:50:59Z","hash":"0xZZ","project":"a\"b\\c\u0000d","raw":-1,"v":"NaN","flag":"maybe"}],"metadata":{"column_names":["Rank","block_time","day","hash","note","project","raw","v","flag","arr"],"column_types":["bigint","timestamp with time zone","date","varbinary","varchar","varchar","uint256","double","boolean","array(varbinary)"],"row_count":2,"result_set_bytes":10,"total_row_count":2,"total_result_set_bytes":10,"datapoint_count":20,"pending_time_millis":1,"execution_time_millis":2}},"next_offset":2,"next_uri":"http://127.0.0.1/api/v1/execution/01HKZSJAW6N2MFVCBHA3R8S64X/results?limit=2&offset=2"}"#;

const SWAPS: [(&str, &str); 12] = [
    (
        "\"rows\":[",
        "\"rows\":[\"ééééééééééééééééééééééééééééééééééééééé\",",
    ),
    ("\"rows\":[", "\"rows\":[1,"),
    ("\"rows\":[", "\"rows\":{\"a\":["),
    ("\"result\":{", "\"result\":["),
    ("\"state\":\"QUERY_STATE_COMPLETED\"", "\"state\":17"),
    (
        "\"state\":\"QUERY_STATE_COMPLETED\"",
        "\"state\":\"QUERY_STATE_SOMETHING_NEW\"",
    ),
    ("\"next_offset\":2", "\"next_offset\":\"two\""),
    ("\"column_names\":[", "\"column_names\":[5,"),
    ("\"execution_id\":\"01HKZSJAW6N2MFVCBHA3R8S64X\",", ""),
    ("{\"Rank\":1,", "{\"Rank\":1,\"Rank\":3,"),
    ("\"v\":2.5", "\"v\":1e999"),
    ("\"metadata\":{", "\"metadata\":[{"),
];

const TARGETS: [Target; 13] = [
    Target::Int2,
    Target::Int4,
    Target::Int8,
    Target::Float4,
    Target::Float8,
    Target::Bool,
    Target::Text,
    Target::Bytes,
    Target::TimestampTz,
    Target::Timestamp,
    Target::Date,
    Target::Json,
    Target::Raw,
];

fn exercise(body: Vec<u8>) {
    let _ = Status::from_json(&body);
    if let Ok(mut page) = Page::from_json(body) {
        let names = [
            "Rank",
            "block_time",
            "day",
            "hash",
            "note",
            "project",
            "raw",
            "v",
            "flag",
            "arr",
            "missing",
        ];
        for target in TARGETS {
            let targets: Vec<(Option<String>, Target)> = names
                .iter()
                .map(|n| (Some(n.to_string()), target))
                .collect();
            let p = prepare(page.rows.raw_rows(), &targets);
            assert_eq!(p.cells.len(), page.rows.len() * targets.len());
        }
        let _ = prepare_objects(page.rows.raw_rows(), true);
        let _ = page.rows.clone().into_maps();
        page.rows.truncate(1);
        assert!(page.rows.raw_rows().count() <= 1);
    }
}

#[test]
fn the_shipped_example_decodes() {
    let page = Page::from_json(PAGE.as_bytes().to_vec()).unwrap();
    assert_eq!(page.rows.len(), 2);
    assert_eq!(page.next_offset, Some(2));
}

#[test]
fn malformed_answers_never_panic() {
    let mut rng = Rng(0xF0F0_1234_ABCD_0001);
    for (from, to) in SWAPS {
        exercise(PAGE.replacen(from, to, 1).into_bytes());
    }
    for _ in 0..3000 {
        let mut body = PAGE.as_bytes().to_vec();
        match rng.below(3) {
            0 => body.truncate(rng.below(body.len() as u64) as usize),
            1 => {
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(body.len() as u64) as usize;
                    body[i] = rng.below(256) as u8;
                }
            }
            _ => {
                let (from, to) = SWAPS[rng.below(SWAPS.len() as u64) as usize];
                body = PAGE.replacen(from, to, 1).into_bytes();
                let i = rng.below(body.len() as u64) as usize;
                body.truncate(i.max(body.len() / 2));
            }
        }
        exercise(body);
    }
}

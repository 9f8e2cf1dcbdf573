//! Real recorded Batch traffic: the client parses it, and the simulator answers the same requests
//! with the same status, headers that matter, and body shape (keys, types, enum casing).

use crate::common;

use common::frozen_sim;
use repool::batch::models::{ErrorBody, Page, Pool};
use repool::batch::shared_key::SharedKey;
use repool::batch::{BatchDuration, ServiceError};
use serde_json::Value;

fn recording(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn without_metadata(mut body: Value) -> Value {
    body.as_object_mut().unwrap().remove("odata.metadata");
    body
}

#[test]
fn pools_from_the_service_round_trip_without_loss() {
    for name in ["13_pool_get_200_just_created", "11_pool_get_200_steady_resizeErrors_ResizeStopped"] {
        let body = without_metadata(recording(name)["response"]["body"].clone());
        let pool: Pool = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(serde_json::to_value(&pool).unwrap(), body, "{name}");
    }
    let stopped: Pool = serde_json::from_value(
        recording("11_pool_get_200_steady_resizeErrors_ResizeStopped")["response"]["body"].clone(),
    )
    .unwrap();
    assert!(stopped.is_steady());
    assert_eq!(stopped.resize_timeout, Some(BatchDuration::from_mins(15)));
    assert_eq!(stopped.resize_errors.unwrap().len(), 2);
}

#[test]
fn pages_keep_the_next_link_exactly() {
    let body = recording("15_pool_list_maxresults1_page1_nextLink")["response"]["body"].clone();
    let expected = body["odata.nextLink"].as_str().unwrap().to_string();
    let page: Page<Pool> = serde_json::from_value(body).unwrap();
    assert_eq!(page.value.len(), 1);
    assert_eq!(page.next_link.as_deref(), Some(expected.as_str()));
    assert!(expected.contains("$skiptoken=WATV2:") && expected.contains('^'));
}

#[test]
fn error_bodies_become_typed_errors() {
    let rec = recording("14_pool_add_400_InvalidPropertyValue");
    let body: ErrorBody = serde_json::from_value(rec["response"]["body"].clone()).unwrap();
    let error = ServiceError::from_body(400, body, Some("41ab2247".into()), None);
    assert_eq!(error.code, "InvalidPropertyValue");
    assert_eq!(error.message, "The value provided for one of the properties in the request body is invalid.");
    assert_eq!(error.value("PropertyName"), Some("subnetId"));
    let shown = error.to_string();
    assert!(shown.contains("fix the named property") && shown.contains("request-id 41ab2247"), "{shown}");
    let not_found: ErrorBody =
        serde_json::from_value(recording("24_pool_get_404_PoolNotFound")["response"]["body"].clone()).unwrap();
    assert!(not_found.values.is_empty());
}

/// Same JSON types everywhere the recording has a value, same strings for enum-like values.
fn assert_same_shape(recorded: &Value, simulated: &Value, path: &str, ignore: &[&str]) {
    match (recorded, simulated) {
        (Value::Object(r), Value::Object(s)) => {
            for (key, value) in r {
                if ignore.contains(&key.as_str()) {
                    continue;
                }
                let inner = format!("{path}.{key}");
                let other = s.get(key).unwrap_or_else(|| panic!("simulator lacks {inner}"));
                assert_same_shape(value, other, &inner, ignore);
            }
        }
        (Value::Array(r), Value::Array(s)) => {
            if let (Some(a), Some(b)) = (r.first(), s.first()) {
                assert_same_shape(a, b, &format!("{path}[0]"), ignore);
            }
        }
        (Value::String(r), Value::String(s)) => {
            let enum_like =
                ["state", "allocationState", "nodeFillType", "version", "lang", "code", "key", "resizeTimeout"];
            if enum_like.iter().any(|k| path.ends_with(&format!(".{k}"))) {
                assert_eq!(r, s, "{path}");
            }
        }
        (r, s) => assert_eq!(std::mem::discriminant(r), std::mem::discriminant(s), "{path}: {r} vs {s}"),
    }
}

struct Replay {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn replay(sim: &repool::sim::RunningSim, method: &str, path_and_query: &str, body: Option<&Value>) -> Replay {
    repool::batch::http::install_crypto_provider();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{}{path_and_query}", sim.url);
    let mut request = client.request(method.parse().unwrap(), &url);
    if let Some(body) = body {
        let text = body.to_string();
        request = request
            .header("content-type", "application/json; odata=minimalmetadata")
            .header("content-length", text.len())
            .body(text);
    } else if method != "GET" {
        request = request.header("content-length", 0);
    }
    let mut request = request.build().unwrap();
    SharedKey::new(sim.account(), sim.key()).unwrap().sign(&mut request);
    let response = client.execute(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    Replay { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

fn path_of(uri: &str) -> String {
    let url = url::Url::parse(uri).unwrap();
    let query: Vec<String> = url
        .query_pairs()
        .map(|(k, v)| if k == "api-version" { "api-version=2024-07-01.20.0".to_string() } else { format!("{k}={v}") })
        .collect();
    format!("{}?{}", url.path(), query.join("&"))
}

#[tokio::test]
async fn the_simulator_answers_recorded_requests_like_the_service() {
    let sim = frozen_sim(None).await;
    let add = recording("12_pool_add_201");
    let answer =
        replay(&sim, "POST", &path_of(add["request"]["uri"].as_str().unwrap()), Some(&add["request"]["body"])).await;
    assert_eq!(answer.status, 201);
    for header in ["DataServiceId", "Location", "ETag", "Last-Modified", "request-id", "DataServiceVersion"] {
        assert!(answer.headers.contains_key(header), "201 lacks {header}");
    }
    assert!(!answer.headers.contains_key("client-request-id"), "echoed only when asked");

    let created = recording("13_pool_get_200_just_created");
    let got = replay(&sim, "GET", &path_of(created["request"]["uri"].as_str().unwrap()), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["etag"], got.body["eTag"].as_str().unwrap());
    // Version-specific and per-run values differ; everything else has the recorded shape and casing.
    let ignore = [
        "url",
        "eTag",
        "lastModified",
        "creationTime",
        "stateTransitionTime",
        "allocationStateTransitionTime",
        "currentNodeCommunicationMode",
        "targetNodeCommunicationMode",
        "odata.metadata",
    ];
    assert_same_shape(&created["response"]["body"], &got.body, "pool", &ignore);
    let keys = |v: &Value| {
        v.as_object().unwrap().keys().filter(|k| !ignore.contains(&k.as_str())).cloned().collect::<Vec<_>>()
    };
    assert_eq!(keys(&got.body), keys(&created["response"]["body"]), "property order");

    for (name, method) in [
        ("22_pool_resize_400_MissingRequiredProperty", "POST"),
        ("24_pool_get_404_PoolNotFound", "GET"),
        ("31_pool_list_400_InvalidQueryParameterValue_maxresults", "GET"),
    ] {
        let rec = recording(name);
        let request_body = rec["request"]["body"].as_object().map(|_| &rec["request"]["body"]);
        let answer = replay(&sim, method, &path_of(rec["request"]["uri"].as_str().unwrap()), request_body).await;
        assert_eq!(answer.status, rec["response"]["status"].as_u64().unwrap() as u16, "{name}");
        assert_same_shape(&rec["response"]["body"], &answer.body, name, &["odata.metadata", "value"]);
        let recorded_values = rec["response"]["body"]["values"].as_array().map(|v| v.len());
        assert_eq!(answer.body["values"].as_array().map(|v| v.len()), recorded_values, "{name} values");
        assert!(answer.body["message"]["value"].as_str().unwrap().contains("\nRequestId:"), "{name}");
    }

    let pool = "/pools/batch_disk_4c281fb9?api-version=2024-07-01.20.0";
    let answer = replay(&sim, "DELETE", pool, None).await;
    assert_eq!(answer.status, 202);
    assert!(!answer.headers.contains_key("etag"), "delete answers without an ETag");
}

#[tokio::test]
async fn shared_key_failures_look_like_the_service() {
    let sim = frozen_sim(None).await;
    repool::batch::http::install_crypto_provider();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{}/pools?api-version=2024-07-01.20.0", sim.url);
    let missing = client.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(
        (body["code"].as_str(), body["values"][0]["value"].as_str()),
        (Some("MissingRequiredHeader"), Some("Authorization"))
    );

    let mut request = client.get(&url).build().unwrap();
    SharedKey::new(sim.account(), "d3Jvbmcta2V5").unwrap().sign(&mut request);
    let wrong = client.execute(request).await.unwrap();
    assert_eq!(wrong.status(), 403);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["code"], "AuthenticationFailed");
    let detail = body["values"][0]["value"].as_str().unwrap();
    assert!(detail.contains("Server used following string to sign: 'GET\n"), "{detail}");

    let mut stale = client.get(&url).build().unwrap();
    stale.headers_mut().insert("ocp-date", "Mon, 13 Mar 2023 20:29:32 GMT".parse().unwrap());
    SharedKey::new(sim.account(), sim.key()).unwrap().sign(&mut stale);
    assert_eq!(client.execute(stale).await.unwrap().status(), 403, "dates more than 15 minutes off are refused");

    let mut old_api = client.get(format!("{}/pools?api-version=2019-01-01.8.0", sim.url)).build().unwrap();
    SharedKey::new(sim.account(), sim.key()).unwrap().sign(&mut old_api);
    let answer = client.execute(old_api).await.unwrap();
    assert_eq!(answer.status(), 400);
    assert_eq!(answer.json::<Value>().await.unwrap()["code"], "UnsupportedRequestVersion");
}

/// An independent verifier: the signature the client sends, recomputed here from the docs' recipe
/// with Python-SDK style canonicalisation (raw query names), must match.
#[test]
fn signature_matches_an_independent_computation() {
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD.encode(b"independent-test-key");
    repool::batch::http::install_crypto_provider();
    let client = reqwest::Client::builder().build().unwrap();
    let mut request = client
        .post("https://acct.westus.batch.azure.com/pools/p1/resize?api-version=2024-07-01.20.0")
        .header("content-type", "application/json; odata=minimalmetadata")
        .header("content-length", "27")
        .header("ocp-date", "Tue, 29 Jul 2014 21:49:13 GMT")
        .body("{\"targetDedicatedNodes\":0}")
        .build()
        .unwrap();
    SharedKey::new("acct", &key).unwrap().sign(&mut request);
    let expected_text = "POST\n\n\n27\n\napplication/json; odata=minimalmetadata\n\n\n\n\n\n\nocp-date:Tue, 29 Jul 2014 21:49:13 GMT\n/acct/pools/p1/resize\napi-version:2024-07-01.20.0";
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"independent-test-key"),
        expected_text.as_bytes(),
    );
    let expected = format!("SharedKey acct:{}", base64::engine::general_purpose::STANDARD.encode(mac.as_ref()));
    assert_eq!(request.headers()["authorization"], expected.as_str());
}

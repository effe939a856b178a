//! Playing the demo model's script (decided by `edgeway_core::demo`) with
//! real timers, producing what an OpenAI-compatible server would send.

use edgeway_core::demo::{self, DemoEnding, DemoModel, DemoScript};
use edgeway_core::openai::{ChatCompletionChunk, ChatRequest};
use edgeway_core::sse;
use futures_util::StreamExt;

use super::{UpstreamBody, UpstreamResponse};
use crate::runtime;
use crate::timer::Timer;

/// Answers `request` as the demo model `model`. `attempt` counts upstream
/// attempts within this gateway request (for `flaky-<n>`).
pub async fn call(model_name: &str, request: &ChatRequest, attempt: u32, word_delay_ms: u64) -> Result<UpstreamResponse, String> {
    // The model was validated with the config; a failure here is a bug.
    let model = DemoModel::parse(model_name)?;
    let answer = match demo::script(model, request, attempt) {
        DemoScript::Fail { status, body, retry_after_s } => {
            let wait_hint_ms = retry_after_s.map(|s| u64::from(s) * 1000);
            return Ok(UpstreamResponse { status, wait_hint_ms, body: UpstreamBody::Stream(futures_util::stream::iter([Ok(body.into_bytes())]).boxed_local()) });
        }
        DemoScript::Answer(answer) => answer,
    };
    if answer.header_delay_ms > 0 {
        Timer::new(answer.header_delay_ms).await;
    }
    let id = edgeway_core::ids::completion_id(runtime::random_bytes());
    let created = runtime::now_ms() / 1000;
    let model_name = model_name.to_owned();

    if !request.is_stream() {
        // A non-streamed answer has no chunks to stall or drop between: a
        // stalled model never answers, a dropped one breaks the connection.
        return match answer.ending {
            DemoEnding::Complete => {
                let body = serde_json::to_vec(&answer.completion(&id, created, &model_name)).map_err(|e| e.to_string())?;
                Ok(UpstreamResponse { status: 200, wait_hint_ms: None, body: UpstreamBody::Stream(futures_util::stream::iter([Ok(body)]).boxed_local()) })
            }
            DemoEnding::StallAfter(_) => futures_util::future::pending().await,
            DemoEnding::DropAfter(_) => Err("the demo model dropped the connection".to_owned()),
        };
    }

    let content = answer.content_chunks(&id, created, &model_name);
    let closing = answer.closing_chunks(&id, created, &model_name, true);
    // The role chunk goes out at once; each further content chunk after a
    // word's pause, like a model generating.
    let mut steps: Vec<(u64, Vec<u8>)> = Vec::with_capacity(content.len() + closing.len() + 1);
    let content_len = content.len();
    let cut_after = match answer.ending {
        DemoEnding::Complete => None,
        DemoEnding::StallAfter(k) | DemoEnding::DropAfter(k) => Some(k + 1), // + the role chunk
    };
    for (i, chunk) in content.iter().enumerate() {
        if cut_after.is_some_and(|cut| i >= cut) {
            break;
        }
        steps.push((if i == 0 { 0 } else { word_delay_ms }, encode(chunk)));
    }
    if cut_after.is_none_or(|cut| cut > content_len) {
        for chunk in &closing {
            steps.push((0, encode(chunk)));
        }
        steps.push((0, sse::DONE.to_vec()));
    }
    let ending = answer.ending;
    let played = futures_util::stream::iter(steps).then(|(delay, bytes)| async move {
        if delay > 0 {
            Timer::new(delay).await;
        }
        Ok::<_, String>(bytes)
    });
    let tail = futures_util::stream::once(async move {
        match ending {
            DemoEnding::Complete => None,
            DemoEnding::StallAfter(_) => futures_util::future::pending().await,
            DemoEnding::DropAfter(_) => Some(Err("the demo model dropped the connection".to_owned())),
        }
    })
    .filter_map(|item| async move { item });
    Ok(UpstreamResponse { status: 200, wait_hint_ms: None, body: UpstreamBody::Stream(played.chain(tail).boxed_local()) })
}

fn encode(chunk: &ChatCompletionChunk) -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(json) = serde_json::to_string(chunk) {
        sse::encode_data(&json, &mut out);
    }
    out
}

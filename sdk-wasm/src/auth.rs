//! Credentials: a fixed key, or short-lived tokens from the app's
//! `getToken`, asked for once, shared by concurrent calls, and asked for
//! again when the gateway says the token expired.

use std::cell::RefCell;

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// Where a call's `Authorization` comes from.
pub enum Auth {
    /// A gateway key (a publishable `ew_pk_` key in a browser).
    Key(String),
    /// Tokens minted by the app's backend.
    Tokens(TokenSource),
}

/// The app's `getToken` and the token it last gave.
pub struct TokenSource {
    get_token: Function,
    current: RefCell<Option<String>>,
    /// A `getToken` call in flight, which concurrent calls wait for.
    pending: RefCell<Option<Promise>>,
}

impl Auth {
    pub fn tokens(get_token: Function) -> Self {
        Self::Tokens(TokenSource { get_token, current: RefCell::new(None), pending: RefCell::new(None) })
    }

    /// The credential to send now.
    pub async fn credential(&self) -> Result<String, JsValue> {
        match self {
            Self::Key(key) => Ok(key.clone()),
            Self::Tokens(source) => source.token().await,
        }
    }

    /// A fresh credential after the gateway refused `stale` as expired, or
    /// None when there is no way to get one (a fixed key).
    pub async fn refresh(&self, stale: &str) -> Option<Result<String, JsValue>> {
        let Self::Tokens(source) = self else { return None };
        // Another call may have refreshed it already.
        {
            let mut current = source.current.borrow_mut();
            if current.as_deref() == Some(stale) {
                *current = None;
            }
        }
        Some(source.token().await)
    }
}

impl TokenSource {
    async fn token(&self) -> Result<String, JsValue> {
        if let Some(token) = self.current.borrow().clone() {
            return Ok(token);
        }
        let pending = self.pending.borrow().clone();
        let pending = match pending {
            Some(pending) => pending,
            None => {
                let asked = Promise::resolve(&self.get_token.call0(&JsValue::UNDEFINED)?);
                *self.pending.borrow_mut() = Some(asked.clone());
                asked
            }
        };
        let answer = JsFuture::from(pending).await;
        self.pending.borrow_mut().take();
        let token = answer?
            .as_string()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| js_sys::TypeError::new("Edgeway: getToken must resolve to the token string"))?;
        *self.current.borrow_mut() = Some(token.clone());
        Ok(token)
    }
}
